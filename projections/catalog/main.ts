/**
 * Composition root of the catalog projection: Debezium's catalog topics → Redis documents and list
 * indexes, and the institutions search index. Serves /healthz and /metrics on
 * CATALOG_PROJECTIONS_PORT (default 3004); stops gracefully on SIGTERM/SIGINT (the batch in
 * flight finishes and its offsets are committed).
 *
 *   npm run connectors -- apply          # once: the Debezium connector that feeds the topics
 *   tsx projections/catalog/main.ts
 */
import {
  catalogConnector,
  catalogConnectorSettings,
  catalogTopicCreation,
} from '../../connectors/catalog-connector.ts';
import { loadConfig } from '../../platform/config.ts';
import { createKafka } from '../../platform/kafka.ts';
import { createRegistry } from '../../platform/http/metrics.ts';
import { createLogger } from '../../platform/logger.ts';
import { workerShell } from '../../platform/worker-shell.ts';
import { createRedis } from '../../platform/redis.ts';
import { searchFromConfig } from '../../platform/search/index.ts';
import { describeError } from '../runtime/errors.ts';
import { loadCatalogProjectionConfig } from './config.ts';
import { startCatalogProjection, type CatalogProjection } from './projectors.ts';

const config = loadConfig();
const logger = createLogger('catalog-projections', config.LOG_LEVEL);
const settings = catalogConnectorSettings(config);
const cc = loadCatalogProjectionConfig();
const registry = createRegistry({ defaultMetrics: true, service: 'catalog-projections' });

const kafka = createKafka(config, logger, `${config.KAFKA_CLIENT_ID}-catalog-projections`);
const redis = createRedis(config, 'catalog-projections');
const search = searchFromConfig(config);
let projection: CatalogProjection | undefined;

const shell = workerShell({
  logger,
  registry,
  health: () => Promise.resolve({ ok: projection !== undefined, body: { stores: cc.CATALOG_STORES } }),
  stop: async () => {
    await projection?.stop();
    redis.disconnect();
    await search.close();
  },
});
if (cc.CATALOG_PROJECTIONS_PORT > 0) await shell.listen(cc.CATALOG_PROJECTIONS_PORT, '127.0.0.1');

try {
  projection = await startCatalogProjection({
    kafka,
    redis,
    search,
    logger,
    topicPrefix: settings.topicPrefix,
    topicCreation: catalogTopicCreation(catalogConnector(settings).config),
    redisPrefix: cc.CATALOG_REDIS_PREFIX,
    searchAlias: cc.CATALOG_SEARCH_ALIAS,
    groupPrefix: cc.CATALOG_GROUP_PREFIX,
    stores: cc.CATALOG_STORES,
    registry,
  });
  const stopped = [projection.redis?.done, projection.search?.done].filter((p) => p !== undefined);
  Promise.all(stopped).catch((err: unknown) => {
    logger.error({ err: describeError(err) }, 'a catalog projector crashed');
    void shell.shutdown('crash', 1);
  });
} catch (err) {
  logger.error({ err: describeError(err) }, 'catalog projection failed to start');
  await shell.shutdown('startup-failure', 1);
}
