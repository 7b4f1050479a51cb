/**
 * Builds the automatic rush switch (rush-auto-switch.ts) of one command API instance, or nothing
 * when RUSH_AUTO_THRESHOLD_PER_S is unset (the default: no count, no Redis round trip per booking).
 */
import type { RedisClient } from '../platform/redis.ts';
import type { Config } from '../platform/config.ts';
import type { Logger } from '../platform/logger.ts';
import { AUTO_SWITCH_ACTOR, RushAutoSwitch } from './rush-auto-switch.ts';
import { switchRush, type RushSwitchDeps } from './rush-switch.ts';

export interface RushAutoWiring {
  deps: { config: Partial<Pick<Config, 'RUSH_AUTO_THRESHOLD_PER_S'>>; rushRateRedis?: RedisClient };
  switchDeps: RushSwitchDeps;
  clock: () => Date;
  logger: Logger;
}

export function rushAutoSwitch(w: RushAutoWiring): RushAutoSwitch | undefined {
  const threshold = w.deps.config.RUSH_AUTO_THRESHOLD_PER_S;
  if (threshold === undefined) return undefined;
  return new RushAutoSwitch({
    thresholdPerSecond: threshold,
    ...(w.deps.rushRateRedis ? { redis: w.deps.rushRateRedis } : {}),
    logger: w.logger,
    switchOn: async (scheduleId) => {
      const result = await switchRush(w.switchDeps, {
        scheduleId,
        command: { enabled: true, actor: AUTO_SWITCH_ACTOR, now: w.clock(), reason: 'auto' },
        metadata: { actor: AUTO_SWITCH_ACTOR, reason: 'auto' },
      });
      // Switched now, or by another instance meanwhile: this instance reads the mode afresh.
      w.switchDeps.modes.forget(scheduleId);
      return result.ok;
    },
  });
}
