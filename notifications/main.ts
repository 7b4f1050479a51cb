/**
 * Composition root of the notifier (docs/adr/0014): configuration, logger, `startNotifications`
 * (start.ts), graceful shutdown on SIGTERM/SIGINT.
 *   npm run notifications        (NOTIFICATIONS_PORT, default 3006; admin port + 1000)
 */
import { loadConfig } from '../platform/config.ts';
import { exitOnSignals } from '../platform/exit-on-signals.ts';
import { createRegistry } from '../platform/http/metrics.ts';
import { createLogger } from '../platform/logger.ts';
import { startNotifications } from './start.ts';

const config = loadConfig();
const logger = createLogger('notifications', config.LOG_LEVEL);
const registry = createRegistry({ defaultMetrics: true, service: 'notifications' });
const handle = await startNotifications(
  { ...config, NOTIFICATIONS_PORT: config.PORT ?? config.NOTIFICATIONS_PORT },
  { logger, registry },
).catch((err: unknown) => {
  logger.fatal({ err: err instanceof Error ? err.message : String(err) }, 'notifications failed to start');
  process.exit(1);
});
logger.info({ port: handle.port }, 'notifications ready');
exitOnSignals({ logger, stop: () => handle.stop() });
