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

/**
 * A request as a careful client sends it: one the platform shed under load (503
 * system_overloaded, flow control's system protection, docs/adr/0011) is sent again — the same
 * request, so the same Idempotency-Key — after its Retry-After (capped at 1 s, with jitter).
 * Shedding a burst of hundreds on two cores is allowed; a wrong answer is not.
 */
export async function sendAsCarefulClient<R extends Answer>(
  send: () => Promise<R>,
  shed: ShedCount = { n: 0 },
  maxAttempts = 50,
): Promise<R> {
  for (let attempt = 1; ; attempt++) {
    const r = await send();
    if (r.status !== 503 || r.body?.code !== 'system_overloaded' || attempt >= maxAttempts) return r;
    shed.n += 1;
    const retryAfterMs = Math.min(1_000, Number(r.headers?.['retry-after'] ?? 1) * 1_000);
    await new Promise((resolve) => setTimeout(resolve, retryAfterMs * (0.5 + Math.random() / 2)));
  }
}
