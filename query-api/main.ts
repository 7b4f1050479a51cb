/**
 * Composition root of the query API: configuration, logger, `startQueryApi` (start.ts), graceful
 * shutdown on SIGTERM/SIGINT.
 *   npx tsx query-api/main.ts        (PORT or QUERY_API_PORT, default 3002)
 */
import { loadConfig } from '../platform/config.ts';
import { createRegistry } from '../platform/http/metrics.ts';
import { createLogger } from '../platform/logger.ts';
import { exitOnSignals } from '../platform/exit-on-signals.ts';
import { parseQueryApiConfig } from './config.ts';
import { startQueryApi } from './start.ts';

const config = loadConfig();
const parsed = parseQueryApiConfig(process.env);
if (!parsed.ok) {
  process.stderr.write(`Invalid configuration:\n${parsed.errors.map((e) => `  - ${e}`).join('\n')}\n`);
  process.exit(1);
}
const logger = createLogger('query-api', config.LOG_LEVEL);
const registry = createRegistry({ defaultMetrics: true, service: 'query-api' });
const handle = await startQueryApi({ config, queryConfig: parsed.config, logger, registry }).catch(
  (err: unknown) => {
    logger.fatal({ err: err instanceof Error ? err.message : String(err) }, 'query API failed to start');
    process.exit(1);
  },
);
logger.info({ port: handle.port }, 'query API listening');
exitOnSignals({ logger, stop: () => handle.stop() });
