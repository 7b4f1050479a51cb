/**
 * Composition root of the command API: configuration, pool, app, server, graceful shutdown.
 *   npx tsx command-api/main.ts        (PORT or COMMAND_API_PORT, default 3001)
 */
import { pathToFileURL } from 'node:url';
import { loadConfig, type Config } from '../platform/config.ts';
import { boundPort, listen, onShutdownSignal } from '../platform/http/server.ts';
import { createRegistry } from '../platform/http/metrics.ts';
import { createLogger } from '../platform/logger.ts';
import { createPool } from '../platform/pg.ts';
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { createRedis } from '../platform/redis.ts';
import { createApp } from './app.ts';

export interface StartOptions {
  config?: Config;
  port?: number;
  /** Apply pending migrations before listening. Default true. */
  migrate?: boolean;
}

export async function startCommandApi(opts: StartOptions = {}) {
  const config = opts.config ?? loadConfig();
  const logger = createLogger('command-api', config.LOG_LEVEL);
  if (opts.migrate ?? true) {
    const { migrate } = await import('../infra/migrate.ts');
    await migrate(config.DATABASE_URL, (message) => logger.info(message));
  }
  const pool = createPool(config, { applicationName: 'command-api', logger });
  // One budget per patient across every instance (Redis); each instance's memory if Redis is down.
  const perMinute = config.PATIENT_COMMANDS_PER_MINUTE;
  const limiterRedis =
    perMinute > 0
      ? createRedis(
          config,
          'command-api-rate-limit',
          { enableOfflineQueue: false, commandTimeout: 50 },
          logger,
        )
      : undefined;
  const patientRateLimiter = limiterRedis
    ? new RateLimiterRedis({
        storeClient: limiterRedis,
        keyPrefix: 'rl:commands',
        points: perMinute,
        duration: 60,
        rejectIfRedisNotReady: true,
        insuranceLimiter: new RateLimiterMemory({ points: perMinute, duration: 60 }),
      })
    : undefined;
  const api = createApp({
    pool,
    config,
    logger,
    registry: createRegistry({ defaultMetrics: true, service: 'command-api' }),
    ...(patientRateLimiter ? { patientRateLimiter } : {}),
  });
  const server = await listen(api.app, opts.port ?? config.PORT ?? config.COMMAND_API_PORT);
  logger.info({ port: boundPort(server) }, 'command API listening');
  onShutdownSignal(server, {
    logger,
    beforeDrain: () => api.beginShutdown(),
    afterDrain: async () => {
      api.close();
      limiterRedis?.disconnect();
      await pool.end();
    },
  });
  return { server, pool, api, logger };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    await startCommandApi();
  } catch (err) {
    process.stderr.write(
      `command API failed to start: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exit(1);
  }
}
