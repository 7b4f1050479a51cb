/**
 * Cluster-wide budgets (rule kind `cluster-qps`): one count per resource (or per value of a
 * parameter) shared by every instance through Redis, with rate-limiter-flexible's
 * RateLimiterRedis; when Redis is unreachable its insurance limiter, a RateLimiterMemory of the
 * instance's local share (count / instances, rounded up), decides instead, so an outage neither
 * opens the gate wide nor closes it.
 *
 * Asynchronous (a Redis round trip), so FlowControl runs these checks after every local rule has
 * admitted the request: a request a local rule refuses never spends a cluster token.
 */
import { createHash } from 'node:crypto';
import type { RedisClient } from '../redis.ts';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import type { ClusterQpsRule } from './rules.ts';

export type ClusterVerdict = { pass: true } | { pass: false; retryAfterMs: number; limit: number };

/** Per instance when Redis does not answer. */
export const localShare = (rule: ClusterQpsRule): number =>
  Math.max(1, Math.ceil(rule.count / rule.instances));

export class ClusterBudgets {
  private readonly limiters = new Map<string, RateLimiterAbstract>();
  /** Decisions the local share took because Redis did not answer (for /metrics and the tests). */
  fallbacks = 0;

  /**
   * @param redis  absent: every instance keeps only its local share (no Redis configured)
   * @param keyPrefix  of the Redis keys (one per resource and rule, then per value)
   */
  constructor(
    private readonly redis?: RedisClient,
    private readonly keyPrefix = 'flow:budget:',
  ) {}

  private limiter(resource: string, rule: ClusterQpsRule): RateLimiterAbstract {
    // The rule's text in the key: a changed rule starts a fresh count, an unchanged one keeps it.
    const id = createHash('sha1')
      .update(`${resource}\n${JSON.stringify(rule)}`)
      .digest('hex')
      .slice(0, 16);
    let limiter = this.limiters.get(id);
    if (limiter) return limiter;
    const local = new RateLimiterMemory({ points: localShare(rule), duration: rule.durationSec });
    if (!this.redis) {
      limiter = local;
    } else {
      const insurance = new RateLimiterMemory({ points: localShare(rule), duration: rule.durationSec });
      const count = () => {
        this.fallbacks += 1;
      };
      // Counted when the insurance limiter decides (rate-limiter-flexible calls it on a Redis error).
      const consume = insurance.consume.bind(insurance);
      insurance.consume = (key, points, options) => {
        count();
        return consume(key, points, options);
      };
      limiter = new RateLimiterRedis({
        storeClient: this.redis,
        keyPrefix: `${this.keyPrefix}${id}`,
        points: rule.count,
        duration: rule.durationSec,
        rejectIfRedisNotReady: true,
        insuranceLimiter: insurance,
      });
    }
    this.limiters.set(id, limiter);
    return limiter;
  }

  async consume(resource: string, rule: ClusterQpsRule, key: string): Promise<ClusterVerdict> {
    try {
      await this.limiter(resource, rule).consume(key);
      return { pass: true };
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        return { pass: false, retryAfterMs: Math.max(1, err.msBeforeNext), limit: rule.count };
      }
      // Neither Redis nor the insurance limiter decided: admit (flow control must not fail requests).
      return { pass: true };
    }
  }
}
