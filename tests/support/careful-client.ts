/** How many requests were shed and sent again (the tests print it). */
export interface ShedCount {
  n: number;
}

/** What the helper reads of an answer: the status, the problem's code, Retry-After when given. */
interface Answer {
  status: number;
  body?: { code?: unknown } | null;
  headers?: Record<string, string | string[] | null | undefined>;
}

/** The default: only a request flow control's system protection shed (docs/adr/0011). */
const shedOnly = (r: Answer) => r.status === 503 && r.body?.code === 'system_overloaded';

/**
 * Every answer that tells the client to come back with the same request: 503 (shed, or a
 * dependency away), 408 (the server's request timer ran out on a loaded machine) and 409
 * idempotency_key_in_flight (an earlier attempt with this key — one the client gave up on after a
 * 408 or a reset — has not finished yet; retrying gives its outcome).
 */
export const retryLater = (r: Answer): boolean =>
  r.status === 503 || r.status === 408 || (r.status === 409 && r.body?.code === 'idempotency_key_in_flight');

export interface CarefulOptions {
  maxAttempts?: number;
  /** Which answers are sent again. Default: 503 system_overloaded only. */
  retryOn?: (r: Answer) => boolean;
  /** Send again after a network error too (a keep-alive connection closed as it was reused). */
  networkErrors?: boolean;
}

/**
 * A request as a careful client sends it: one the platform asked to come back is sent again — the
 * same request, so the same Idempotency-Key — after its Retry-After (capped at 1 s, with jitter).
 * Shedding a burst of hundreds on two cores is allowed; a wrong answer is not.
 */
export async function sendAsCarefulClient<R extends Answer>(
  send: () => Promise<R>,
  shed: ShedCount = { n: 0 },
  opts: CarefulOptions = {},
): Promise<R> {
  const { maxAttempts = 50, retryOn = shedOnly, networkErrors = false } = opts;
  for (let attempt = 1; ; attempt++) {
    const r = await send().catch((err: unknown) => {
      if (!networkErrors || attempt >= maxAttempts) throw err;
      return undefined;
    });
    if (r && (!retryOn(r) || attempt >= maxAttempts)) return r;
    shed.n += 1;
    const retryAfterMs = Math.min(1_000, Number(r?.headers?.['retry-after'] ?? 1) * 1_000);
    await new Promise((resolve) => setTimeout(resolve, retryAfterMs * (0.5 + Math.random() / 2)));
  }
}
