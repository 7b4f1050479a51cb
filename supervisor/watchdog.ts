/**
 * The supervisor's view of one service, probed in the background (so its own /healthz answers
 * from memory, at once, whatever the services do): liveness from the service's /healthz, readiness
 * and reasons from its /readyz, each under a 1 s deadline.
 *
 * Restart policy: only a service that says it should be restarted (503 on /healthz) or does not
 * answer at all, several probes in a row and past its start-up grace, is killed and restarted.
 * `degraded` (a dependency is down) never counts: restarting would not bring Kafka back.
 */
export type Liveness = 'ok' | 'degraded' | 'failing' | 'unreachable';

export interface ServiceProbe {
  at: number;
  live: Liveness;
  ready: boolean;
  reasons: string[];
}

export interface WatchPolicy {
  failuresBeforeRestart: number;
  startupGraceMs: number;
}

export const DEFAULT_WATCH_POLICY: WatchPolicy = { failuresBeforeRestart: 3, startupGraceMs: 60_000 };

interface Answer {
  status: number;
  body: { status?: string; reasons?: string[] };
}

async function ask(url: string, timeoutMs: number): Promise<Answer | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.json().catch(() => ({}))) as Answer['body'];
    return { status: res.status, body };
  } catch {
    return undefined;
  }
}

function livenessOf(answer: Answer | undefined): Liveness {
  if (!answer) return 'unreachable';
  if (answer.status >= 500) return 'failing';
  return answer.body.status === 'degraded' ? 'degraded' : 'ok';
}

export async function probeService(baseUrl: string, timeoutMs = 1000, now = Date.now): Promise<ServiceProbe> {
  const [health, ready] = await Promise.all([
    ask(`${baseUrl}/healthz`, timeoutMs),
    ask(`${baseUrl}/readyz`, timeoutMs),
  ]);
  const live = livenessOf(health);
  const reasons = [...new Set([...(health?.body.reasons ?? []), ...(ready?.body.reasons ?? [])])];
  if (live === 'unreachable') reasons.push(`no answer from ${baseUrl} within ${timeoutMs} ms`);
  return { at: now(), live, ready: ready?.status === 200, reasons };
}

/** Pure: consecutive liveness failures after this probe, and whether to restart now. */
export function afterProbe(
  failures: number,
  probe: Pick<ServiceProbe, 'live'>,
  runningForMs: number,
  policy: WatchPolicy = DEFAULT_WATCH_POLICY,
): { failures: number; restart: boolean } {
  const failed = probe.live === 'failing' || probe.live === 'unreachable';
  if (!failed) return { failures: 0, restart: false };
  // A process still starting may not listen yet; it is not held against it.
  if (probe.live === 'unreachable' && runningForMs < policy.startupGraceMs)
    return { failures, restart: false };
  const next = failures + 1;
  return next >= policy.failuresBeforeRestart
    ? { failures: 0, restart: true }
    : { failures: next, restart: false };
}
