/**
 * Composition root of the delivery worker (docs/adr/0016): configuration, logger,
 * `startDelivery` (start.ts), graceful shutdown on SIGTERM/SIGINT.
 *   npm run delivery        (DELIVERY_PORT, default 3007; admin port + 1000)
 */
import { loadConfig } from '../platform/config.ts';
import { exitOnSignals } from '../platform/exit-on-signals.ts';
import { createRegistry } from '../platform/http/metrics.ts';
import { createLogger } from '../platform/logger.ts';
import { loadDeliverySettings } from './config.ts';
import { startDelivery } from './start.ts';

const config = loadConfig();
const settings = loadDeliverySettings();
const logger = createLogger('delivery', config.LOG_LEVEL);
const registry = createRegistry({ defaultMetrics: true, service: 'delivery' });
const handle = await startDelivery({ config, settings, logger, registry }).catch((err: unknown) => {
  logger.fatal({ err: err instanceof Error ? err.message : String(err) }, 'delivery worker failed to start');
  process.exit(1);
});
logger.info({ url: handle.url }, 'delivery worker ready');
exitOnSignals({ logger, stop: () => handle.stop() });
