/**
 * Composition root of the catalog projection: Debezium's catalog topics → Redis documents and list
 * indexes, and the institutions search index. Serves /healthz and /metrics on
 * CATALOG_PROJECTIONS_PORT (default 3004); stops gracefully on SIGTERM/SIGINT (the batch in
 * flight finishes and its offsets are committed).
 *
 *   npm run connectors -- apply          # once: the Debezium connector that feeds the topics
 *   tsx projections/catalog/main.ts
 */
import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { catalogConnectorSettings } from '../../connectors/catalog-connector.ts';
import { loadConfig } from '../../platform/config.ts';
import { createKafka } from '../../platform/kafka.ts';
import { createLogger } from '../../platform/logger.ts';
import { createRedis } from '../../platform/redis.ts';
import { searchFromConfig } from '../../platform/search/index.ts';
import { describeError } from '../runtime/errors.ts';
import { loadCatalogProjectionConfig } from './config.ts';
import { startCatalogProjection, type CatalogProjection } from './projectors.ts';

const config = loadConfig();
const logger = createLogger('catalog-projections', config.LOG_LEVEL);
const settings = catalogConnectorSettings(config);
const cc = loadCatalogProjectionConfig();
const registry = new Registry();
registry.setDefaultLabels({ service: 'catalog-projections' });
collectDefaultMetrics({ register: registry });

const kafka = createKafka(config, logger, `${config.KAFKA_CLIENT_ID}-catalog-projections`);
const redis = createRedis(config, 'catalog-projections');
const search = searchFromConfig(config);
let projection: CatalogProjection | undefined;
let server: Server | undefined;
let shuttingDown = false;

async function shutdown(signal: string, code = 0): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  logger.info({ signal }, 'shutting down');
  const timer = setTimeout(() => {
    logger.error('shutdown took too long: exiting');
    process.exit(1);
  }, 20_000);
  timer.unref();
  try {
    await projection?.stop();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    redis.disconnect();
    await search.close();
  } catch (err) {
    logger.error({ err: describeError(err) }, 'error during shutdown');
    code = code || 1;
  }
  logger.info('stopped');
  process.exit(code);
}

process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

if (cc.CATALOG_PROJECTIONS_PORT > 0) {
  server = createServer((req, res) => {
    if (req.url === '/metrics') {
      registry
        .metrics()
        .then((body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body))
        .catch((err: unknown) => res.writeHead(500).end(describeError(err)));
      return;
    }
    if (req.url === '/healthz') {
      const ok = projection !== undefined && !shuttingDown;
      res
        .writeHead(ok ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: ok ? 'ok' : 'starting' }));
      return;
    }
    res.writeHead(404).end();
  });
  server.listen(cc.CATALOG_PROJECTIONS_PORT, '127.0.0.1');
}

try {
  projection = await startCatalogProjection({
    kafka,
    redis,
    search,
    logger,
    topicPrefix: settings.topicPrefix,
    redisPrefix: cc.CATALOG_REDIS_PREFIX,
    searchAlias: cc.CATALOG_SEARCH_ALIAS,
    groupPrefix: cc.CATALOG_GROUP_PREFIX,
    stores: cc.CATALOG_STORES,
    registry,
  });
  const stopped = [projection.redis?.done, projection.search?.done].filter((p) => p !== undefined);
  Promise.all(stopped).catch((err: unknown) => {
    logger.error({ err: describeError(err) }, 'a catalog projector crashed');
    void shutdown('crash', 1);
  });
} catch (err) {
  logger.error({ err: describeError(err) }, 'catalog projection failed to start');
  await shutdown('startup-failure', 1);
}
