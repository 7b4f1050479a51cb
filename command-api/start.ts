/**
 * Starts the command API: (migrations,) pool, the per-patient rate limiter, the app, the server.
 * Used by main.ts and by the tests (port 0, their own pool and seams) alike.
 */
import { refuseFirst } from '../platform/flow/gate.ts';
import type { Server } from 'node:http';
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import type { Config } from '../platform/config.ts';
import { requirePostgresEventStore } from '../platform/event-store/index.ts';
import type { HealthResponse } from '../platform/http/health.ts';
import { healthOf } from '../platform/http/service-app.ts';
import { createRegistry, type Registry } from '../platform/http/metrics.ts';
import { defaultAdminPort, serveHandler } from '../platform/http/admin.ts';
import { boundPort, connectionLimitsOf, drain, listen } from '../platform/http/server.ts';
import { createLogger, type Logger } from '../platform/logger.ts';
import { createPool, type Pool } from '../platform/pg.ts';
import { createRedis } from '../platform/redis.ts';
import { fileDefaultFlowRules } from '../platform/flow/default-rules.ts';
import { FlowRuleStore } from '../platform/flow/rule-store.ts';
import { ClusterBudgets } from '../platform/flow/cluster.ts';
import { createApp, type CommandApi, type CommandApiDeps } from './app.ts';

export interface CommandApiStartOptions {
  config: Config;
  logger?: Logger;
  registry?: Registry;
  /** Default: PORT, else COMMAND_API_PORT (0 picks a free port). */
  port?: number;
  /** Default HOST (127.0.0.1). */
  host?: string;
  /** Default: ADMIN_PORT, else the port + 1000 (0 picks a free port). */
  adminPort?: number;
  /** Apply pending migrations before listening. Default true. */
  migrate?: boolean;
  /** A pool owned by the caller (stop does not end it). */
  pool?: Pool;
  /** Seams and overrides for the app (tests: clock, hooks, a limiter of their own). */
  app?: Partial<Omit<CommandApiDeps, 'pool' | 'config' | 'logger' | 'registry'>>;
}

export interface CommandApiHandle {
  readonly port: number;
  readonly url: string;
  /** /metrics and the detailed health. */
  readonly adminUrl: string;
  /** Resolves at once: the API takes traffic once start resolved (readiness says whether it can). */
  readonly ready: Promise<void>;
  readonly server: Server;
  readonly api: CommandApi;
  readonly pool: Pool;
  readonly health: { live: () => Promise<HealthResponse>; ready: () => Promise<HealthResponse> };
  /** Fails readiness, drains in-flight requests (up to `drainMs`), then closes what it opened. */
  stop: (drainMs?: number) => Promise<void>;
}

/** One budget per patient across every instance (Redis); each instance's memory if Redis is down. */
function patientLimiter(config: Config, logger: Logger) {
  const perMinute = config.PATIENT_COMMANDS_PER_MINUTE;
  if (perMinute <= 0) return undefined;
  const redis = createRedis(
    config,
    'command-api-rate-limit',
    { enableOfflineQueue: false, commandTimeout: 50 },
    logger,
  );
  const limiter = new RateLimiterRedis({
    storeClient: redis,
    keyPrefix: 'rl:commands',
    points: perMinute,
    duration: 60,
    rejectIfRedisNotReady: true,
    insuranceLimiter: new RateLimiterMemory({ points: perMinute, duration: 60 }),
  });
  return { limiter, close: () => redis.disconnect() };
}

/** The live flow rules of this environment (FLOW_RULES_KEY), read with a client that fails fast. */
function flowRedis(config: Config, logger: Logger) {
  const redis = createRedis(
    config,
    'command-api-flow',
    { enableOfflineQueue: false, commandTimeout: 100 },
    logger,
  );
  return {
    redis,
    store: new FlowRuleStore(redis, config.FLOW_RULES_KEY, fileDefaultFlowRules(config.FLOW_RULES_FILE)),
    cluster: new ClusterBudgets(redis, `${config.FLOW_RULES_KEY}:budget:`),
  };
}

export async function startCommandApi(opts: CommandApiStartOptions): Promise<CommandApiHandle> {
  const { config } = opts;
  requirePostgresEventStore(
    config,
    'the command API',
    'a command appends its events, indexes its appointments and completes its Idempotency-Key in one PostgreSQL transaction',
  );
  const logger = opts.logger ?? createLogger('command-api', config.LOG_LEVEL);
  if (opts.migrate ?? true) {
    const { migrate } = await import('../infra/migrate.ts');
    await migrate(config.DATABASE_URL, (message) => logger.info(message));
  }
  const pool = opts.pool ?? createPool(config, { applicationName: 'command-api', logger });
  const limiter = opts.app?.patientRateLimiter ? undefined : patientLimiter(config, logger);
  const flow = opts.app?.flowRuleStore ? undefined : flowRedis(config, logger);
  const api = createApp({
    ...(limiter ? { patientRateLimiter: limiter.limiter } : {}),
    ...(flow
      ? { flowRuleStore: flow.store, flowClusterBudgets: flow.cluster, rushRateRedis: flow.redis }
      : {}),
    ...opts.app,
    pool,
    config,
    logger,
    registry: opts.registry ?? createRegistry(),
  });
  const host = opts.host ?? config.HOST;
  const requested = opts.port ?? config.PORT ?? config.COMMAND_API_PORT;
  const server = await listen(api.handler, requested, host, connectionLimitsOf(config));
  refuseFirst(server, api.gate);
  api.deadlines.start();
  const port = boundPort(server);
  const adminPort = opts.adminPort ?? defaultAdminPort(requested, config.ADMIN_PORT);
  const admin = await serveHandler(api.admin, adminPort, host);
  let stopping: Promise<void> | undefined;
  return {
    port,
    url: `http://${host}:${port}`,
    adminUrl: admin.url,
    ready: Promise.resolve(),
    server,
    api,
    pool,
    health: healthOf(api.app),
    stop: (drainMs = 10_000) =>
      (stopping ??= (async () => {
        api.beginShutdown();
        await api.deadlines.stop();
        await drain(server, drainMs);
        await admin.close();
        api.close();
        limiter?.close();
        flow?.redis.disconnect();
        if (!opts.pool) await pool.end();
      })()),
  };
}
