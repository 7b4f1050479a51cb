/** What a problem (RFC 9457, `code` from the platform's catalogue) means to a patient, in Chinese. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string | undefined,
    /** Seconds, from Retry-After. */
    readonly retryAfter: number | undefined,
  ) {
    super(`${status} ${code}`);
  }
}

const MESSAGES: Record<string, string> = {
  schedule_full: '号源已约满，请选择其他时段',
  schedule_closed: '该时段已停诊',
  booking_closed: '该时段已停止预约',
  session_started: '就诊时段已开始，无法预约',
  already_booked: '您已预约过该时段',
  one_per_doctor_per_day: '同一医生每天只能预约一次',
  too_many_active: '您的待就诊预约已达上限',
  no_show_limited: '因多次爽约，暂时无法预约',
  appointment_not_active: '该预约已取消或已就诊',
  cancellation_closed: '已过可取消时间',
  appointment_not_found: '未找到该预约',
  institution_not_found: '未找到该医院',
  schedule_not_found: '未找到该排班',
  unauthenticated: '请先登录',
  forbidden: '无权查看',
  idempotency_key_in_flight: '正在处理上一次提交，请稍候',
  dependency_unavailable: '服务暂时不可用',
  network: '网络连接失败，请检查网络后重试',
};

const WAIT = new Set(['too_many_requests', 'flow_limited', 'system_overloaded']);

export function describeError(err: unknown): string {
  if (!(err instanceof ApiError)) return '出错了，请稍后再试';
  const after = err.retryAfter !== undefined ? `，请 ${err.retryAfter} 秒后再试` : '，请稍后再试';
  if (WAIT.has(err.code)) return `操作太频繁或访问人数较多${after}`;
  const message = MESSAGES[err.code];
  if (message) return err.code === 'dependency_unavailable' ? message + after : message;
  return err.detail ?? `请求失败（${err.status}）`;
}
