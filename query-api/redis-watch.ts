/**
 * Whether Redis is answering, judged by answers rather than by the connection flag: a Redis that
 * is connected but does not reply (CLIENT PAUSE, a long-running script, a stalled host) looks
 * `ready` to ioredis for as long as the socket stays open. A probe every interval, bounded by the
 * client's per-command budget; "answering" means the last probes did not all miss. Read per request
 * on the fast path, so reading it is two field reads.
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
  opts: { intervalMs?: number; rebuildingKey: string },
): RedisWatch {
  const intervalMs = opts.intervalMs ?? 250;
  // Counted in probes, not in wall-clock age: after the event loop was blocked (a loaded host, a
  // GC pause) the tick runs before the socket is read, so an answered probe can look late once;
  // an age measured with Date.now() called such a Redis unavailable and marked pages stale. Two
  // misses in a row (a failed probe, or a tick that finds the last one unanswered) are needed.
  let misses = 0;
  let inFlight = false;
  let rebuilding = false;
  const ping = () => {
    if (inFlight) {
      misses++; // a hung Redis: do not pile probes up behind it
      return;
    }
    inFlight = true;
    redis
      .exists(opts.rebuildingKey)
      .then(
        (n) => {
          misses = 0;
          rebuilding = n === 1;
        },
        () => misses++,
      )
      .finally(() => (inFlight = false));
  };
  const timer = setInterval(ping, intervalMs).unref();
  return {
    answering: () => redis.status === 'ready' && misses < 2,
    rebuilding: () => rebuilding,
    stop: () => clearInterval(timer),
  };
}
