/**
 * Composition root of the request processor (docs/adr/0015): configuration, logger,
 * `startRequestProcessor` (start.ts), graceful shutdown on SIGTERM/SIGINT.
 *   npx tsx requests/main.ts
 */
import { loadConfig } from '../platform/config.ts';
import { exitOnSignals } from '../platform/exit-on-signals.ts';
import { createLogger } from '../platform/logger.ts';
import { startRequestProcessor } from './start.ts';

const config = loadConfig();
const logger = createLogger('requests', config.LOG_LEVEL);
const handle = await startRequestProcessor({ config, logger }).catch((err: unknown) => {
  logger.fatal(
    { err: err instanceof Error ? err.message : String(err) },
    'request processor failed to start',
  );
  process.exit(1);
});
exitOnSignals({ logger, stop: () => handle.stop() });
