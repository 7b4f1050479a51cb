/**
 * Starts the gateway (docs/adr/0018): one origin for the patient's web app and both APIs. It
 * serves the built app (web/dist) with CDN-ready headers, proxies /v1 to the command or the query
 * API, offers the development sign-in outside production and the ops summary to admins; /metrics
 * and the detailed health on the admin port, like every process. Used by main.ts and the tests.
 */
import type { Server } from 'node:http';
import type { Config } from '../platform/config.ts';
import { defaultAdminPort, serveHandler, type AdminServer } from '../platform/http/admin.ts';
import { jwtSettingsOf } from '../platform/http/auth.ts';
import { createRegistry, type Registry } from '../platform/http/metrics.ts';
import { boundPort, connectionLimitsOf, drain, listen } from '../platform/http/server.ts';
import { serviceApp } from '../platform/http/service-app.ts';
import { createLogger, type Logger } from '../platform/logger.ts';
import { createRedis } from '../platform/redis.ts';
import type { GatewayConfig } from './config.ts';
import { devSignInRouter } from './dev-sign-in.ts';
import { opsRouter, startOpsSampler } from './ops-route.ts';
import { GrayStore, watchGray, type GrayWatch } from './gray-store.ts';
import { apiProxy } from './proxy.ts';
import { startUpstreams, type Upstreams } from './upstreams.ts';
import { loadStaticFiles, staticHandler } from './static-files.ts';

export interface GatewayOptions {
  config: Pick<
    Config,
    | 'HOST'
    | 'NODE_ENV'
    | 'ADMIN_PORT'
    | 'JWT_SECRET'
    | 'JWT_KEYS'
    | 'JWT_ISSUER'
    | 'JWT_AUDIENCE'
    | 'JWT_MAX_TTL_SECONDS'
  > &
    Partial<Config>;
  gateway: GatewayConfig;
  logger?: Logger;
  registry?: Registry;
  /** Default gateway.port (0 picks a free one). */
  port?: number;
  adminPort?: number;
  /** How often the ops summary scrapes the services' /metrics. Default 5 s. */
  opsSampleMs?: number;
  /** The canary shares' store (tests); default GRAY_RELEASE_KEY on REDIS_URL, read only with a canary pool. */
  grayStore?: GrayStore;
  /** How often the shares are re-read. Default 1 s. */
  grayPollMs?: number;
}

export interface GatewayHandle {
  readonly port: number;
  readonly url: string;
  readonly adminUrl: string;
  readonly server: Server;
  /** Files served from web/dist (0: the app was not built). */
  readonly files: number;
  /** The API instances, their health and the gray shares applied (tests, admin detail). */
  readonly upstreams: Upstreams;
  stop(drainMs?: number): Promise<void>;
}

export async function startGateway(options: GatewayOptions): Promise<GatewayHandle> {
  const { config, gateway } = options;
  const logger = options.logger ?? createLogger('gateway', config.LOG_LEVEL);
  const registry = options.registry ?? createRegistry();
  const files = loadStaticFiles(gateway.webRoot);
  if (files.size === 0) logger.warn({ webRoot: gateway.webRoot }, 'web app not built (npm run web:build)');
  const jwt = jwtSettingsOf(config);
  const gray = openGray(options, logger);
  const upstreams = startUpstreams(gateway, { registry, logger, ...(gray ? { gray: gray.watch } : {}) });
  const service = serviceApp({
    logger,
    registry,
    readiness: {
      checks: {
        'web-app': () => {
          if (files.size === 0) throw new Error(`nothing built in ${gateway.webRoot}`);
        },
      },
    },
  });
  const { app } = service;
  const sampler = startOpsSampler(gateway.metricsTargets, options.opsSampleMs);
  app.use(opsRouter({ jwt, sampler }));
  // Before any body parser: the proxied request bodies stream through as sent.
  app.use(apiProxy(upstreams, logger));
  if (config.NODE_ENV !== 'production') app.use(devSignInRouter(jwt));
  app.use(staticHandler(files));
  service.finish();

  const port = options.port ?? gateway.port;
  const server = await listen(app, port, config.HOST, connectionLimitsOf(config));
  const bound = boundPort(server);
  const admin: AdminServer = await serveHandler(
    service.admin,
    options.adminPort ?? defaultAdminPort(port === 0 ? 0 : bound, config.ADMIN_PORT),
    config.HOST,
  );
  const host = config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST;
  return {
    port: bound,
    url: `http://${host}:${bound}`,
    adminUrl: admin.url,
    server,
    files: files.size,
    upstreams,
    stop: async (drainMs = 10_000) => {
      service.beginShutdown();
      sampler.stop();
      upstreams.stop();
      await drain(server, drainMs);
      await admin.close();
      gray?.close();
    },
  };
}

/**
 * The live canary shares, only where a canary is configured (a gateway without one needs no Redis).
 * The client fails fast: a poll that cannot be answered keeps the shares last read.
 */
function openGray(options: GatewayOptions, logger: Logger): { watch: GrayWatch; close(): void } | undefined {
  const { gateway, config } = options;
  const canary = (gateway.commandApiCanaryUrls?.length ?? 0) + (gateway.queryApiCanaryUrls?.length ?? 0);
  if (canary === 0) return undefined;
  if (options.grayStore) {
    const watch = watchGray(options.grayStore, { logger, intervalMs: options.grayPollMs ?? 1000 });
    return { watch, close: () => watch.stop() };
  }
  const redis = createRedis(
    { REDIS_URL: config.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    'gateway-gray',
    { enableOfflineQueue: false, commandTimeout: 200 },
    logger,
  );
  const watch = watchGray(new GrayStore(redis, gateway.grayKey ?? 'gray:release'), {
    logger,
    intervalMs: options.grayPollMs ?? 1000,
  });
  return {
    watch,
    close: () => {
      watch.stop();
      redis.disconnect();
    },
  };
}
