/**
 * Whether Redis is answering, judged by answers rather than by the connection flag: a Redis that
 * is connected but does not reply (CLIENT PAUSE, a long-running script, a stalled host) looks
 * `ready` to ioredis for as long as the socket stays open. A PING every interval, bounded by the
 * per-command budget; "answering" means one came back recently. Read per request on the fast path,
 * so reading it is one clock read.
 *
 * The probe is `EXISTS <root>:rebuilding` rather than PING: the same round trip also says whether
 * the projectors are rebuilding a lost booking read model (projections/redis/keyspace-guard.ts),
 * during which booking answers are marked stale.
 */
import type { RedisClient } from '../platform/redis.ts';

export interface RedisWatch {
  answering(): boolean;
  /** The booking read model is being rebuilt (as of the last answer). */
  rebuilding(): boolean;
  stop(): void;
}

export function watchRedis(
  redis: RedisClient,
  opts: { intervalMs?: number; budgetMs: number; rebuildingKey: string },
): RedisWatch {
  const intervalMs = opts.intervalMs ?? 250;
  // Two missed pings (plus the budget of the one in flight) before answers count as stale.
  const maxAgeMs = 2 * intervalMs + opts.budgetMs;
  let answeredAt = Date.now();
  let inFlight = false;
  let rebuilding = false;
  const ping = () => {
    if (inFlight) return; // a hung Redis: do not pile PINGs up behind it
    inFlight = true;
    redis
      .exists(opts.rebuildingKey)
      .then((n) => {
        answeredAt = Date.now();
        rebuilding = n === 1;
      })
      .catch(() => undefined)
      .finally(() => (inFlight = false));
  };
  const timer = setInterval(ping, intervalMs).unref();
  return {
    answering: () => redis.status === 'ready' && Date.now() - answeredAt <= maxAgeMs,
    rebuilding: () => rebuilding,
    stop: () => clearInterval(timer),
  };
}
