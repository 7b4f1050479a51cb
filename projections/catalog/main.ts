/**
 * Composition root of the catalog projection: Debezium's catalog topics → Redis documents and list
 * indexes, and the institutions search index. Serves /healthz, /readyz and /metrics on
 * CATALOG_PROJECTIONS_PORT (default 3004); stops gracefully on SIGTERM/SIGINT (the batch in
 * flight finishes and its offsets are committed). The wiring is start.ts's
 * `startCatalogProjections`.
 *
 *   npm run connectors -- apply          # once: the Debezium connector that feeds the topics
 *   tsx projections/catalog/main.ts
 */
import { loadConfig } from '../../platform/config.ts';
import { createRegistry } from '../../platform/http/metrics.ts';
import { createLogger } from '../../platform/logger.ts';
import { exitOnSignals } from '../../platform/exit-on-signals.ts';
import { loadCatalogProjectionConfig } from './config.ts';
import { startCatalogProjections } from './start.ts';
import { whenStarted } from '../startup.ts';

const platform = loadConfig();
const catalog = loadCatalogProjectionConfig();
const logger = createLogger('catalog-projections', platform.LOG_LEVEL);
const registry = createRegistry({ defaultMetrics: true, service: 'catalog-projections' });

const handle = await startCatalogProjections({ platform, catalog }, { logger, registry }).catch(
  (err: unknown) => {
    logger.fatal(
      { err: err instanceof Error ? err.message : String(err) },
      'catalog projection failed to start',
    );
    process.exit(1);
  },
);
const { shutdown } = exitOnSignals({ logger, stop: handle.stop });
whenStarted(handle.ready, () =>
  logger.info({ port: handle.port, stores: catalog.CATALOG_STORES }, 'catalog projection ready'),
);
// A projector that stopped for good: exit so the supervisor restarts the process.
void handle.failed.then((err) => {
  logger.error({ err: err.message }, 'a catalog projector crashed');
  void shutdown('crash', 1);
});
