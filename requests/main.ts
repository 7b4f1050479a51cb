/**
 * Composition root of the request processor (docs/adr/0015): configuration, logger,
 * `startRequestProcessor` (start.ts) with its health and metrics servers, graceful shutdown on
 * SIGTERM/SIGINT.
 *   npm run requests        (REQUEST_PROCESSOR_PORT, default 3008: /healthz, /readyz; admin port
 *                            + 1000, 4008: /metrics and the detailed health)
 */
import { loadConfig } from '../platform/config.ts';
import { exitOnSignals } from '../platform/exit-on-signals.ts';
import { createRegistry } from '../platform/http/metrics.ts';
import { createLogger } from '../platform/logger.ts';
import { startRequestProcessor } from './start.ts';

const config = loadConfig();
const logger = createLogger('requests', config.LOG_LEVEL);
const registry = createRegistry({ defaultMetrics: true, service: 'request-processor' });
const handle = await startRequestProcessor({
  config,
  logger,
  registry,
  port: config.PORT ?? config.REQUEST_PROCESSOR_PORT,
}).catch((err: unknown) => {
  logger.fatal(
    { err: err instanceof Error ? err.message : String(err) },
    'request processor failed to start',
  );
  process.exit(1);
});
logger.info({ port: handle.port, admin: handle.adminUrl }, 'request processor ready');
exitOnSignals({ logger, stop: () => handle.stop() });
