/**
 * Composition root of the command API: configuration, logger, `startCommandApi` (start.ts),
 * graceful shutdown on SIGTERM/SIGINT.
 *   npx tsx command-api/main.ts        (PORT or COMMAND_API_PORT, default 3001)
 */
import { loadConfig } from '../platform/config.ts';
import { createRegistry } from '../platform/http/metrics.ts';
import { createLogger } from '../platform/logger.ts';
import { exitOnSignals } from '../platform/exit-on-signals.ts';
import { startCommandApi } from './start.ts';

const config = loadConfig();
const logger = createLogger('command-api', config.LOG_LEVEL);
const registry = createRegistry({ defaultMetrics: true, service: 'command-api' });
const handle = await startCommandApi({ config, logger, registry }).catch((err: unknown) => {
  logger.fatal({ err: err instanceof Error ? err.message : String(err) }, 'command API failed to start');
  process.exit(1);
});
logger.info({ port: handle.port }, 'command API listening');
exitOnSignals({ logger, stop: () => handle.stop() });
