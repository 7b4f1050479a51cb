/**
 * A bounded booking load, as careful clients send it: a fixed rate of new bookings, each with its
 * own patient and Idempotency-Key, retried with the same key on anything that may not be final —
 * a network error, a timeout, 5xx, 429, 409 idempotency_key_in_flight — after the server's
 * Retry-After, else an exponential backoff with full jitter (250 ms doubling to 4 s: a fixed
 * 250 ms made the clients of a restarting command API a retry storm that kept it down), until it
 * gets an answer that is final, or gives up after `giveUpMs`.
 * Every attempt's outcome is counted by kind; every logical booking is kept for verification.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Booking {
  key: string;
  patientId: string;
  scheduleId: string;
  /** Final status, or undefined when the client gave up. */
  status: number | undefined;
  appointmentId: string | undefined;
  attempts: number;
}

export interface LoadOptions {
  commandUrl: string;
  scheduleIds: readonly string[];
  ratePerSecond: number;
  tokenFor: (patientId: string) => Promise<string>;
  giveUpMs?: number;
  attemptTimeoutMs?: number;
}

export interface Load {
  /** Stops sending new bookings and waits for the ones in flight (each within its give-up time). */
  stop(): Promise<{ bookings: Booking[]; attemptsByKind: Record<string, number> }>;
}

const retryable = (status: number, code: string | undefined): boolean =>
  status >= 500 || status === 429 || (status === 409 && code === 'idempotency_key_in_flight');

/** `503 database_unavailable`, `ECONNREFUSED`, `timeout`: how an attempt ended. */
function kindOf(status: number, code: string | undefined): string {
  return code ? `${status} ${code}` : String(status);
}

function networkKind(err: unknown): string {
  if (err instanceof DOMException && err.name === 'TimeoutError') return 'timeout';
  const cause = (err as { cause?: { code?: string } }).cause;
  return cause?.code ?? (err instanceof Error ? err.name : 'error');
}

interface Attempt {
  status?: number;
  code?: string;
  appointmentId?: string;
  retryAfterMs?: number;
  kind: string;
}

async function attempt(o: LoadOptions, b: Booking, token: string): Promise<Attempt> {
  try {
    const res = await fetch(`${o.commandUrl}/v1/appointments`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'idempotency-key': b.key,
      },
      body: JSON.stringify({ scheduleId: b.scheduleId, patientId: b.patientId }),
      signal: AbortSignal.timeout(o.attemptTimeoutMs ?? 5_000),
    });
    const body = (await res.json().catch(() => ({}))) as { appointmentId?: string; type?: string };
    const code = res.ok ? undefined : body.type?.split('/').pop();
    const retryAfter = Number(res.headers.get('retry-after'));
    return {
      status: res.status,
      ...(code ? { code } : {}),
      ...(body.appointmentId ? { appointmentId: body.appointmentId } : {}),
      ...(retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
      kind: kindOf(res.status, code),
    };
  } catch (err) {
    return { kind: networkKind(err) };
  }
}

/** Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): uniform in [0, cap]. */
const backoffMs = (attempt: number): number => Math.random() * Math.min(4_000, 250 * 2 ** (attempt - 1));

async function settle(o: LoadOptions, b: Booking, count: (kind: string) => void): Promise<void> {
  const token = await o.tokenFor(b.patientId);
  const deadline = Date.now() + (o.giveUpMs ?? 30_000);
  while (Date.now() < deadline) {
    b.attempts += 1;
    const a = await attempt(o, b, token);
    count(a.kind);
    if (a.status !== undefined && !retryable(a.status, a.code)) {
      b.status = a.status;
      b.appointmentId = a.appointmentId;
      return;
    }
    await sleep(a.retryAfterMs ?? backoffMs(b.attempts));
  }
}

export function startLoad(o: LoadOptions): Load {
  const bookings: Booking[] = [];
  const attemptsByKind: Record<string, number> = {};
  const count = (kind: string) => (attemptsByKind[kind] = (attemptsByKind[kind] ?? 0) + 1);
  const inFlight = new Set<Promise<void>>();
  let stopped = false;
  const send = () => {
    const scheduleId = o.scheduleIds[bookings.length % o.scheduleIds.length]!;
    const b: Booking = {
      key: randomUUID(),
      patientId: `chaos-${randomUUID().slice(0, 13)}`,
      scheduleId,
      status: undefined,
      appointmentId: undefined,
      attempts: 0,
    };
    bookings.push(b);
    const p = settle(o, b, count).finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  // Paced by the clock, not by answers: a stalled server does not slow the arrivals.
  const started = Date.now();
  const timer = setInterval(() => {
    if (stopped) return;
    const due = Math.floor(((Date.now() - started) / 1000) * o.ratePerSecond);
    while (bookings.length < due) send();
  }, 20);
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await Promise.all([...inFlight]);
      return { bookings, attemptsByKind };
    },
  };
}
