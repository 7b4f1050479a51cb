/**
 * The query API as an Express app, built from its dependencies so tests can run several
 * instances on port 0 against the real Redis and search engine. `main.ts` wires real ones.
 */
import type { RequestListener } from 'node:http';
import type { Express } from 'express';
import type { RedisClient } from '../platform/redis.ts';
import { Counter, Gauge } from 'prom-client';
import type { JwtInput } from '../platform/http/auth.ts';
import { createRegistry, type Registry } from '../platform/http/metrics.ts';
import type { FlowControl } from '../platform/flow/flow-control.ts';
import { serviceGate, type InboundGate } from '../platform/flow/gate.ts';
import { inboundFlow } from '../platform/flow/inbound.ts';
import type { FlowRules } from '../platform/flow/rules.ts';
import type { FlowRuleStore } from '../platform/flow/rule-store.ts';
import type { ClusterBudgets } from '../platform/flow/cluster.ts';
import {
  DependencyGuard,
  registerDependencyMetrics,
  type DependencyGuardOptions,
} from '../platform/flow/outbound.ts';
import { guardSearch, searchGuardOptions } from '../platform/flow/search-guard.ts';
import { problemBaseFromEnv } from '../platform/http/problem-base.ts';
import { serviceApp } from '../platform/http/service-app.ts';
import { createLogger, type Logger } from '../platform/logger.ts';
import type { SearchEngine } from '../platform/search/index.ts';
import type { AppointmentAccess } from './appointment-access.ts';
import { TwoLevelCache } from './cache/two-level-cache.ts';
import type { QueryApiConfig } from './config.ts';
import { BookingReader } from './read-models/booking-reader.ts';
import { CatalogReader } from './read-models/catalog-reader.ts';
import { FastRoutes, withFastPath, type FastPathHandler } from './fast-path.ts';
import { queryApiInfo, queryApiRoutes } from './route-specs.ts';
import { rebuildingKey } from '../read-models/bookings.ts';
import { watchRedis } from './redis-watch.ts';
import { queryRoutes } from './routes.ts';

export interface QueryApiDeps {
  redis: RedisClient;
  search: SearchEngine;
  config: QueryApiConfig;
  /** Keys and checks of bearer tokens (a bare secret: one key, default issuer, audience, lifetime). */
  jwt: JwtInput;
  /** Root of the booking read-model keys (`rm`). */
  readModelRoot: string;
  /** Prefix of the catalog read-model keys (`catalog:`). */
  catalogPrefix: string;
  searchAlias: string;
  /** GET /v1/appointments/{id}: the command side's index, the store's head, the patient vault. */
  appointments: AppointmentAccess;
  logger?: Logger;
  registry?: Registry;
  clock?: () => Date;
  /** Base of problem type URIs. Default: PROBLEM_BASE_URL, else `/problems/`. */
  problemBase?: string;
  /** Inbound flow rules (platform/flow). Default: platform/flow/default-rules.ts. */
  flowRules?: FlowRules;
  /** Live flow rules (Redis, polled each second); replaced through the command API's admin routes. */
  flowRuleStore?: FlowRuleStore;
  /** Where cluster-qps rules count (Redis, with a local share as fallback). */
  flowClusterBudgets?: ClusterBudgets;
  /** The search engine's breakers and bulkhead (platform/flow/search-guard.ts): overrides, or false for none. */
  searchGuard?: Partial<DependencyGuardOptions> | false;
}

export interface QueryApi {
  app: Express;
  /** What the server listens with: the cache fast path in front of the Express app. */
  handler: FastPathHandler;
  /** /metrics and the detailed health, for the admin port. */
  admin: RequestListener;
  cache: TwoLevelCache;
  registry: Registry;
  /** Inbound flow control: every route a resource (cache hits of the fast path only counted). */
  flow: FlowControl;
  /** The same on the raw request, behind the fast path: `refuseFirst` decides ahead of the tracing instrumentation. */
  gate: InboundGate;
  beginShutdown(): void;
}

export function createApp(deps: QueryApiDeps): QueryApi {
  const logger = deps.logger ?? createLogger('query-api');
  const registry = deps.registry ?? createRegistry();
  // Searches through a bulkhead and breakers: while open, a fast 503 instead of a wait on the engine.
  const searchGuard =
    deps.searchGuard === false
      ? undefined
      : new DependencyGuard('search', searchGuardOptions(deps.searchGuard));
  const search = searchGuard ? guardSearch(deps.search, searchGuard) : deps.search;
  registerDependencyMetrics(registry, () => (searchGuard ? [searchGuard] : []));
  const cache = new TwoLevelCache({
    maxBytes: deps.config.QUERY_L1_MAX_MB * 1024 * 1024,
    ttlMs: deps.config.QUERY_L1_TTL_MS,
    maxStaleMs: deps.config.QUERY_L1_MAX_STALE_MS,
    // Only the homepage changes with the clock (content windows, today's figures): every other
    // page is built from Redis keys alone, so the keyspace notifications keep it fresh and its TTL
    // is only a backstop. A short TTL there cost one reload per URL every 5 s (docs/adr/0005).
    ttlFor: (key) => (key.startsWith('homepage:') ? undefined : deps.config.QUERY_L1_KEYED_TTL_MS),
  });
  const outcomes = new Counter({
    name: 'query_cache_requests_total',
    help: 'Cached reads by route and outcome: l1-hit, l1-stale-revalidating, l1-stale-fallback (Redis down), l2-load, l2-miss (not found), l2-error',
    labelNames: ['route', 'outcome'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'query_cache_hit_ratio',
    help: 'Since start: level l1 = reads served from process memory / all cached reads; level l2 = Redis loads that found the resource / all Redis loads',
    labelNames: ['level'] as const,
    registers: [registry],
    async collect() {
      const totals = new Map<string, number>();
      for (const v of (await outcomes.get()).values) {
        const o = String(v.labels.outcome);
        totals.set(o, (totals.get(o) ?? 0) + v.value);
      }
      const n = (o: string) => totals.get(o) ?? 0;
      const l1 = n('l1-hit') + n('l1-stale-revalidating') + n('l1-stale-fallback');
      const l2 = n('l2-load') + n('l2-miss') + n('l2-error');
      this.set({ level: 'l1' }, l1 + l2 === 0 ? 0 : l1 / (l1 + l2));
      this.set({ level: 'l2' }, l2 === 0 ? 0 : n('l2-load') / l2);
    },
  });
  new Gauge({
    name: 'query_cache_l1_entries',
    help: 'Responses held in the in-process cache',
    registers: [registry],
    collect() {
      this.set(cache.size);
    },
  });
  new Gauge({
    name: 'query_cache_l1_bytes',
    help: 'Bytes the in-process cache counts against QUERY_L1_MAX_MB (bodies, compressed variants, 256 per entry)',
    registers: [registry],
    collect() {
      this.set(cache.bytes);
    },
  });

  const fastRoutes = new FastRoutes();
  // Judged by answers (a paused Redis keeps its connection): stale marks and the fast path follow it.
  const redisWatch = watchRedis(deps.redis, {
    rebuildingKey: rebuildingKey(deps.readModelRoot),
  });
  const redisReady = () => redisWatch.answering();
  const rebuilding = () => redisWatch.rebuilding();
  const service = serviceApp({
    logger,
    registry,
    readiness: { checks: { redis: () => deps.redis.ping() }, timeoutMs: 500 },
    api: {
      info: queryApiInfo,
      routes: queryApiRoutes,
      problemBase: deps.problemBase ?? problemBaseFromEnv(),
    },
  });
  const { app } = service;
  const inbound = inboundFlow({
    registry,
    ...(deps.logger ? { logger: deps.logger } : {}),
    ...(deps.flowRules ? { rules: deps.flowRules } : {}),
    ...(deps.flowRuleStore ? { store: deps.flowRuleStore } : {}),
    ...(deps.flowClusterBudgets ? { cluster: deps.flowClusterBudgets } : {}),
  });
  // In front of Express (behind the cache-hit fast path): a refusal costs a route match.
  const gate = serviceGate(service, {
    flow: inbound.flow,
    routes: queryApiRoutes,
    registry,
    problemBase: deps.problemBase ?? problemBaseFromEnv(),
  });
  app.use(
    queryRoutes({
      cache,
      catalog: new CatalogReader(deps.redis, deps.catalogPrefix),
      bookings: new BookingReader(deps.redis, deps.readModelRoot),
      search,
      searchAlias: deps.searchAlias,
      config: deps.config,
      jwt: deps.jwt,
      outcomes,
      fastRoutes,
      redisReady,
      appointments: deps.appointments,
      rebuilding,
      ...(deps.clock ? { clock: deps.clock } : {}),
    }),
  );
  service.finish();

  return {
    app,
    gate,
    handler: withFastPath(gate.wrap(app), {
      cache,
      routes: fastRoutes,
      registry,
      outcomes,
      logger,
      // While a lost booking read model is rebuilt, answers go through the routes, which mark them.
      redisReady: () => redisReady() && !rebuilding(),
      disabled: service.isShuttingDown,
      flow: inbound.flow,
    }),
    admin: service.admin,
    cache,
    registry,
    flow: inbound.flow,
    beginShutdown: () => {
      inbound.stop();
      redisWatch.stop();
      service.beginShutdown();
    },
  };
}
