/**
 * The one error catalogue: a stable code per failure, mapped to an HTTP status and an
 * RFC 9457 problem type. Services throw `AppError`; one middleware renders it.
 * Add codes here, never ad-hoc statuses in handlers.
 */
export const catalogue = {
  validation_failed: { status: 400, title: 'Request validation failed' },
  malformed_json: { status: 400, title: 'Malformed JSON body' },
  bad_parameter: { status: 400, title: 'Invalid query parameter' },
  idempotency_key_missing: { status: 400, title: 'Idempotency-Key header is required' },
  idempotency_key_invalid: { status: 400, title: 'Idempotency-Key header is malformed' },
  unauthenticated: { status: 401, title: 'Authentication required' },
  forbidden: { status: 403, title: 'Not allowed' },
  not_found: { status: 404, title: 'Resource not found' },
  schedule_not_found: { status: 404, title: 'Schedule not found' },
  appointment_not_found: { status: 404, title: 'Appointment not found' },
  institution_not_found: { status: 404, title: 'Institution not found' },
  doctor_not_found: { status: 404, title: 'Doctor not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  idempotency_key_in_flight: {
    status: 409,
    title: 'A request with this Idempotency-Key is still being processed',
  },
  schedule_full: { status: 409, title: 'Schedule is fully booked' },
  already_booked: { status: 409, title: 'Patient already holds an active appointment on this schedule' },
  schedule_closed: { status: 409, title: 'Schedule is closed' },
  schedule_already_exists: { status: 409, title: 'Schedule already exists' },
  session_started: { status: 409, title: 'Session has already started' },
  appointment_not_active: { status: 409, title: 'Appointment is not active' },
  capacity_below_active: { status: 409, title: 'Capacity cannot drop below the active appointment count' },
  concurrency_conflict: { status: 409, title: 'Concurrent modification, retry' },
  payload_too_large: { status: 413, title: 'Request body too large' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  idempotency_key_reused: { status: 422, title: 'Idempotency-Key reused with a different payload' },
  too_many_requests: { status: 429, title: 'Too many requests' },
  dependency_unavailable: { status: 503, title: 'A dependency is unavailable' },
  internal: { status: 500, title: 'Internal server error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof catalogue;

export const problemTypeUri = (code: ErrorCode): string =>
  `https://errors.booking.example/${code.replaceAll('_', '-')}`;

export interface InvalidParam {
  name: string;
  reason: string;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly detail: string | undefined;
  readonly invalidParams: InvalidParam[] | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(
    code: ErrorCode,
    detail?: string,
    opts: { invalidParams?: InvalidParam[]; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(detail ?? catalogue[code].title, { cause: opts.cause });
    this.name = 'AppError';
    this.code = code;
    this.detail = detail;
    this.invalidParams = opts.invalidParams;
    this.headers = opts.headers;
  }

  get status(): number {
    return catalogue[this.code].status;
  }
}

export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail?: string;
  instance?: string;
  traceId?: string;
  'invalid-params'?: InvalidParam[];
}

export function toProblem(err: AppError, instance?: string, traceId?: string): ProblemDocument {
  const entry = catalogue[err.code];
  return {
    type: problemTypeUri(err.code),
    title: entry.title,
    status: entry.status,
    code: err.code,
    ...(err.detail ? { detail: err.detail } : {}),
    ...(instance ? { instance } : {}),
    ...(traceId ? { traceId } : {}),
    ...(err.invalidParams ? { 'invalid-params': err.invalidParams } : {}),
  };
}
