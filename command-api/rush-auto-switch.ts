/**
 * The automatic switch to rush mode (issue 17; docs/adr/0015 §8): a schedule whose booking
 * commands arrive faster than RUSH_AUTO_THRESHOLD_PER_S goes to the queue by itself.
 *
 * How the rate is measured: every booking command for a schedule not in rush mode spends one point
 * of a per-schedule rate-limiter-flexible budget of `threshold` points per second, kept in Redis,
 * so every API instance counts into the same sum. The window is rate-limiter-flexible's: it opens
 * with the first booking counted and lasts one second. The command that finds the budget spent
 * (the threshold + 1st within the window) switches the schedule on. Redis unreachable: each
 * instance counts its own bookings in memory (its insurance limiter) — a cluster then switches
 * later than the threshold says, never sooner.
 *
 * The switch is the manual one (rush-switch.ts): RushModeChanged with `reason: "auto"`, idempotent
 * by state, only ever ON; off stays a hospital's or an admin's decision (a spike's tail should not
 * flap the schedule back mid-queue). Concurrent commands of one schedule share one switch attempt.
 */
import type { RedisClient } from '../platform/redis.ts';
import { LRUCache } from 'lru-cache';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import type { Logger } from '../platform/logger.ts';

/** The subject recorded as the switch's actor: the platform itself, with an admin's authority. */
export const AUTO_SWITCH_ACTOR = { id: 'rush-auto-switch', role: 'admin' } as const;

export interface RushAutoSwitchOptions {
  thresholdPerSecond: number;
  /** Absent: the count is this instance's alone. */
  redis?: RedisClient;
  keyPrefix?: string;
  /** Switches the schedule on; resolves true when it is in rush mode afterwards. */
  switchOn: (scheduleId: string) => Promise<boolean>;
  logger?: Logger;
}

export class RushAutoSwitch {
  readonly #opts: RushAutoSwitchOptions;
  readonly #limiter: RateLimiterAbstract;
  readonly #switching = new Map<string, Promise<boolean>>();
  /** Schedules that could not be switched (closed, unknown): not retried for a while. */
  readonly #refused = new LRUCache<string, true>({ max: 10_000, ttl: 10_000 });
  /** Switches made by this instance (for /metrics and the tests). */
  switched = 0;

  constructor(opts: RushAutoSwitchOptions) {
    this.#opts = opts;
    const points = opts.thresholdPerSecond;
    const local = new RateLimiterMemory({ points, duration: 1 });
    this.#limiter = opts.redis
      ? new RateLimiterRedis({
          storeClient: opts.redis,
          keyPrefix: opts.keyPrefix ?? 'rush:rate',
          points,
          duration: 1,
          rejectIfRedisNotReady: true,
          insuranceLimiter: local,
        })
      : local;
  }

  /**
   * Counts one booking command for `scheduleId`; resolves true when this command found the rate
   * above the threshold and the schedule is now in rush mode (the caller queues it).
   */
  async observe(scheduleId: string): Promise<boolean> {
    const running = this.#switching.get(scheduleId);
    if (running) return running;
    if (this.#refused.has(scheduleId)) return false;
    if (!(await this.#overThreshold(scheduleId))) return false;
    return this.#switchOnce(scheduleId);
  }

  async #overThreshold(scheduleId: string): Promise<boolean> {
    try {
      await this.#limiter.consume(scheduleId);
      return false;
    } catch (err) {
      if (err instanceof RateLimiterRes) return true;
      // Neither Redis nor the insurance limiter answered: no switch, the booking goes on as it is.
      this.#opts.logger?.warn({ err: String(err) }, 'booking rate not counted');
      return false;
    }
  }

  #switchOnce(scheduleId: string): Promise<boolean> {
    let running = this.#switching.get(scheduleId);
    if (running) return running;
    running = this.#opts
      .switchOn(scheduleId)
      .then((on) => {
        if (on) {
          this.switched += 1;
          this.#opts.logger?.info({ scheduleId }, 'schedule switched to rush mode by its booking rate');
        } else this.#refused.set(scheduleId, true);
        return on;
      })
      .catch((err: unknown) => {
        this.#opts.logger?.warn({ err: String(err), scheduleId }, 'automatic rush switch failed');
        return false;
      })
      .finally(() => this.#switching.delete(scheduleId));
    this.#switching.set(scheduleId, running);
    return running;
  }
}
