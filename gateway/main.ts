/**
 * Composition root of the gateway (docs/adr/0018): configuration, logger, `startGateway`
 * (start.ts), graceful shutdown on SIGTERM/SIGINT.
 *   tsx gateway/main.ts        (GATEWAY_PORT, default 3005; admin port + 1000)
 */
import { loadConfig } from '../platform/config.ts';
import { exitOnSignals } from '../platform/exit-on-signals.ts';
import { createRegistry } from '../platform/http/metrics.ts';
import { createLogger } from '../platform/logger.ts';
import { loadGatewayConfig } from './config.ts';
import { startGateway } from './start.ts';

const config = loadConfig();
const logger = createLogger('gateway', config.LOG_LEVEL);
const registry = createRegistry({ defaultMetrics: true, service: 'gateway' });
const gateway = loadGatewayConfig(config);
const handle = await startGateway({
  config,
  gateway: { ...gateway, port: config.PORT ?? gateway.port },
  logger,
  registry,
}).catch((err: unknown) => {
  logger.fatal({ err: err instanceof Error ? err.message : String(err) }, 'gateway failed to start');
  process.exit(1);
});
logger.info({ port: handle.port, files: handle.files }, `web app at ${handle.url}/`);
exitOnSignals({ logger, stop: () => handle.stop() });
