/**
 * A bound on the read-your-writes waits one client holds at once (issue 11). A wait costs a
 * request slot and a Redis poll every 20 ms for up to QUERY_RYW_TIMEOUT_MS; a client that sends
 * many checkpoints in parallel would hold that many. Past its share a request is not refused
 * (an honest client with a burst of reads must not see 429s): it is answered at once with what is
 * there, marked stale when the checkpoint was not reached. In process, like the L1 cache: each
 * instance bounds its own share.
 */
import type { Request } from 'express';
import { type PatientDigest, type Principal, principalScope } from '../platform/http/auth.ts';

/**
 * The sub as is: this name lives only in this process's memory, never stored or logged, so it
 * needs no digest (the query API would otherwise compute an HMAC per read for nothing).
 */
const inMemoryOnly: PatientDigest = { digest: (patientId) => patientId };

/** Who a wait counts against: the principal when the route authenticated one, else the peer address. */
export function clientOf(req: Request, principal?: Principal): string {
  if (principal) return `principal:${principalScope(principal, inMemoryOnly)}`;
  return `ip:${req.ip ?? req.socket.remoteAddress ?? 'unknown'}`;
}

export class ClientWaits {
  readonly #max: number;
  readonly #active = new Map<string, number>();

  constructor(maxPerClient: number) {
    this.#max = maxPerClient;
  }

  /** The waits `client` holds now (0 once it holds none: the map keeps no idle clients). */
  active(client: string): number {
    return this.#active.get(client) ?? 0;
  }

  /**
   * Runs `wait` with `timeoutMs` while `client` holds fewer than its share of waits, else with 0
   * (one load, no wait). A timeout of 0 (no checkpoint asked for) takes no share.
   */
  async run<T>(client: string, timeoutMs: number, wait: (timeoutMs: number) => Promise<T>): Promise<T> {
    if (timeoutMs <= 0 || this.active(client) >= this.#max) return wait(0);
    this.#active.set(client, this.active(client) + 1);
    try {
      return await wait(timeoutMs);
    } finally {
      const left = this.active(client) - 1;
      if (left > 0) this.#active.set(client, left);
      else this.#active.delete(client);
    }
  }
}
