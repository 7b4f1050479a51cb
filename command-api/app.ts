/**
 * The command API as an Express app, built from its dependencies so tests can start it on port 0
 * against a real database. `main.ts` is the composition root that wires real ones.
 */
import { randomUUID } from 'node:crypto';
import type { RequestListener } from 'node:http';
import type { Express, RequestHandler } from 'express';
import { Counter, Histogram } from 'prom-client';
import { PgAuditTrail } from '../platform/audit.ts';
import type { Config } from '../platform/config.ts';
import { PgEventStore } from '../platform/event-store/pg-event-store.ts';
import { authenticate, jwtSettingsOf, principalOf } from '../platform/http/auth.ts';
import { rateLimit } from '../platform/http/rate-limit.ts';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { jsonBody } from '../platform/http/body.ts';
import { PgIdempotencyStore } from '../platform/http/idempotency.ts';
import type { FlowControl } from '../platform/flow/flow-control.ts';
import { serviceGate, type InboundGate } from '../platform/flow/gate.ts';
import { inboundFlow } from '../platform/flow/inbound.ts';
import { fileDefaultFlowRules } from '../platform/flow/default-rules.ts';
import type { FlowRules } from '../platform/flow/rules.ts';
import type { FlowRuleStore } from '../platform/flow/rule-store.ts';
import type { ClusterBudgets } from '../platform/flow/cluster.ts';
import {
  DependencyGuard,
  registerDependencyMetrics,
  type DependencyGuardOptions,
} from '../platform/flow/outbound.ts';
import { guardPool, PG_GUARD_DEFAULTS } from '../platform/flow/pg-guard.ts';
import type { DependencyView } from '../platform/flow/admin-view.ts';
import { createRegistry, type Registry } from '../platform/http/metrics.ts';
import { problemBaseFromEnv } from '../platform/http/problem-base.ts';
import { serviceApp } from '../platform/http/service-app.ts';
import { createLogger, type Logger } from '../platform/logger.ts';
import { sealingReads } from '../platform/legacy-patients.ts';
import { patientVault } from '../platform/patient-vault.ts';
import type { Pool } from '../platform/pg.ts';
import { forgetPatient } from './forget-route.ts';
import { PgAppointmentIndex } from './appointment-index.ts';
import { auditRoutes } from './audit-route.ts';
import { flowAdminRouter } from './flow-admin-route.ts';
import { PgCatalogDirectory } from './catalog-directory.ts';
import { type CommandPathOptions, createCommands } from './command-path.ts';
import type { CommandHooks } from './command-route.ts';
import { PgOneStatementCommit } from './one-statement-commit.ts';
import { PgOpenSessions } from './open-sessions.ts';
import { type DeadlinePoller, deadlinePoller } from './deadline-poller.ts';
import { type DueDeadline, PgDeadlines } from './deadlines-table.ts';
import { PgPatientBookings } from './patient-bookings.ts';
import { patientRuleOptionsOf, type SlotConfig, slotOptionsOf } from './slot-settings.ts';
import { commandApiInfo, commandApiRoutes } from './route-specs.ts';
import { commandRoutes } from './routes.ts';
import { createKafka } from '../platform/kafka.ts';
import { bookingRequestRoutes, DecisionListener } from './booking-request-route.ts';
import { rushBooking } from './rush-booking.ts';
import { databaseUnavailableAs503, RushModes } from './rush-modes.ts';
import { RushQueue } from './rush-queue.ts';
import { setRushMode } from './rush-route.ts';
import { rushAutoSwitch } from './rush-auto-wiring.ts';
import { ScheduleStates } from './schedule-states.ts';
import type { RedisClient } from '../platform/redis.ts';
import { setRushRoute } from './route-specs.ts';
import { requireRole } from '../platform/http/auth.ts';
import { methodNotAllowed } from './routes.ts';

export interface CommandApiDeps {
  pool: Pool;
  config: Pick<Config, 'JWT_SECRET' | 'IDEMPOTENCY_TTL_HOURS' | 'PATIENT_KEK'> &
    Partial<
      Pick<
        Config,
        | 'BOOKING_HORIZON_DAYS'
        | 'JWT_KEYS'
        | 'JWT_ISSUER'
        | 'JWT_AUDIENCE'
        | 'JWT_MAX_TTL_SECONDS'
        | 'KAFKA_BROKERS'
        | 'KAFKA_CLIENT_ID'
        | 'BOOKING_REQUESTS_TOPIC'
        | 'RUSH_PRODUCE_TIMEOUT_MS'
        | 'RUSH_AUTO_THRESHOLD_PER_S'
        | 'FLOW_RULES_FILE'
      >
    > &
    SlotConfig;
  logger?: Logger;
  registry?: Registry;
  clock?: () => Date;
  ids?: () => string;
  /** Seconds after which an in-flight Idempotency-Key claim is presumed abandoned. Default 10. */
  idempotencyLeaseSeconds?: number;
  /** How often expired idempotency keys are purged (0 disables the timer). Default 10 minutes. */
  idempotencyPurgeIntervalMs?: number;
  commands?: CommandPathOptions;
  hooks?: CommandHooks;
  /** Test seam of the deadline poller: runs after a deadline is claimed, before its command. */
  deadlineBeforeFire?: (d: DueDeadline) => Promise<void>;
  /** Per-patient budget of commands (hospital and admin integrations are not limited). */
  patientRateLimiter?: RateLimiterAbstract;
  /** Base of problem type URIs. Default: PROBLEM_BASE_URL, else `/problems/`. */
  problemBase?: string;
  /** Inbound flow rules (platform/flow). Default: platform/flow/default-rules.ts. */
  flowRules?: FlowRules;
  /** Live flow rules (Redis): polled every `flowRulesPollMs` (default 1 s), replaced by PUT /v1/admin/flow-rules. */
  flowRuleStore?: FlowRuleStore;
  flowRulesPollMs?: number;
  /** Where cluster-qps rules count (Redis, with a local share as fallback). */
  flowClusterBudgets?: ClusterBudgets;
  /** Further outbound dependencies' breaker states for GET /v1/admin/flow. */
  dependencies?: () => readonly DependencyView[];
  /** Where the automatic rush switch counts bookings (absent: each instance alone). */
  rushRateRedis?: RedisClient;
  /** The pool's breakers and bulkhead (platform/flow/pg-guard.ts): overrides of the defaults, or false for none. */
  pgGuard?: Partial<DependencyGuardOptions> | false;
}

export interface CommandApi {
  app: Express;
  /** What the server listens with: the app behind inbound flow control (refusals never reach Express). */
  handler: RequestListener;
  /** Inbound flow control on the raw request: `refuseFirst` decides ahead of the tracing instrumentation. */
  gate: InboundGate;
  /** /metrics and the detailed health, for the admin port. */
  admin: RequestListener;
  registry: Registry;
  idempotency: PgIdempotencyStore;
  /** Inbound flow control: every route a resource (stage 2 changes its rules live). */
  flow: FlowControl;
  /** Fires due holds and releases (docs/adr/0012); start.ts starts and stops it. */
  deadlines: DeadlinePoller;
  /** Readiness starts failing and responses ask clients to close their connections. */
  beginShutdown(): void;
  /** Stops background timers (does not end the pool: the caller owns it). */
  close(): void;
}

export function createApp(deps: CommandApiDeps): CommandApi {
  const logger = deps.logger ?? createLogger('command-api');
  const registry = deps.registry ?? createRegistry();
  // Every statement of the API through the pool's breakers (error and slow-call ratio) and bulkhead.
  const pgGuard =
    deps.pgGuard === false
      ? undefined
      : new DependencyGuard('postgres', {
          ...PG_GUARD_DEFAULTS,
          concurrency: deps.pool.options.max,
          ...deps.pgGuard,
        });
  const pool = pgGuard ? guardPool(deps.pool, pgGuard) : deps.pool;
  registerDependencyMetrics(registry, () => (pgGuard ? [pgGuard] : []));

  const appendLatency = new Histogram({
    name: 'event_store_append_duration_seconds',
    help: 'Event store append latency (inside the command transaction) by outcome',
    labelNames: ['outcome'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  const conflictRetries = new Counter({
    name: 'command_concurrency_retries_total',
    help: 'Commands retried after an optimistic-concurrency conflict',
    registers: [registry],
  });
  const streamLocks = new Counter({
    name: 'command_stream_locks_total',
    help: 'Command attempts decided under the stream lock after repeated optimistic-concurrency conflicts',
    registers: [registry],
  });
  const replays = new Counter({
    name: 'idempotency_replays_total',
    help: 'Requests answered from a stored Idempotency-Key outcome',
    registers: [registry],
  });

  const store = new PgEventStore(pool, {
    observeAppend: (seconds, outcome) => appendLatency.observe({ outcome }, seconds),
  });
  const idempotency = new PgIdempotencyStore(pool, {
    ttlHours: deps.config.IDEMPOTENCY_TTL_HOURS,
    ...(deps.idempotencyLeaseSeconds === undefined ? {} : { leaseSeconds: deps.idempotencyLeaseSeconds }),
  });
  const appointments = new PgAppointmentIndex(pool);
  const audit = new PgAuditTrail(pool);
  const patients = patientVault(pool, deps.config);
  const commands = createCommands(
    {
      // Streams are read through the vault: events stored in v1's clear shape reach the decider as v2.
      store: sealingReads(store, patients),
      keys: idempotency,
      appointments,
      sessions: new PgOpenSessions(),
      deadlines: new PgDeadlines(),
      patients: new PgPatientBookings(pool, patientRuleOptionsOf(deps.config)),
      audit: { record: (tx, entries) => audit.record(entries, tx) },
      oneStatement: new PgOneStatementCommit(pool, {
        observeAppend: (seconds, outcome) => appendLatency.observe({ outcome }, seconds),
      }),
    },
    {
      slots: slotOptionsOf(deps.config),
      ...deps.commands,
      onRetry: () => {
        conflictRetries.inc();
        deps.commands?.onRetry?.();
      },
      onLock: () => {
        streamLocks.inc();
        deps.commands?.onLock?.();
      },
    },
  );

  const problemBase = deps.problemBase ?? problemBaseFromEnv();
  const service = serviceApp({
    logger,
    registry,
    readiness: { checks: { postgres: () => pool.query('SELECT 1') } },
    api: {
      info: commandApiInfo,
      routes: commandApiRoutes,
      problemBase,
    },
  });
  const { app } = service;
  // Before authentication and body parsing: a request refused here costs a route match.
  const inbound = inboundFlow({
    registry,
    logger,
    // Given (tests) as given; else this deployment's file default (FLOW_RULES_FILE), until the store says otherwise.
    rules: deps.flowRules ?? fileDefaultFlowRules(deps.config.FLOW_RULES_FILE)(),
    ...(deps.flowRuleStore ? { store: deps.flowRuleStore } : {}),
    ...(deps.flowClusterBudgets ? { cluster: deps.flowClusterBudgets } : {}),
    ...(deps.flowRulesPollMs === undefined ? {} : { pollMs: deps.flowRulesPollMs }),
    // The pool is the command API's bottleneck: a queue for its connections engages BBR.
    queuedOutbound: pgGuard ? () => pgGuard.queued : () => deps.pool.waitingCount,
  });
  // In front of Express: a refused request costs a route match, never parsing or authentication.
  const gate = serviceGate(service, { flow: inbound.flow, routes: commandApiRoutes, registry, problemBase });

  // Everything under /v1 is authenticated (also an unknown path: no route discovery without a token).
  const v1: RequestHandler[] = [authenticate({ jwt: jwtSettingsOf(deps.config) })];
  if (deps.patientRateLimiter) {
    v1.push(
      rateLimit({
        limiter: deps.patientRateLimiter,
        key: (req) => {
          const principal = principalOf(req);
          // A Redis key name never carries a patient id in clear (docs/adr/0010).
          return principal.role === 'patient' ? `patient:${patients.digest(principal.sub)}` : undefined;
        },
        what: 'commands from this patient',
      }),
    );
  }
  app.use('/v1', ...v1, ...jsonBody());
  app.use(auditRoutes(audit));
  app.use(
    flowAdminRouter({
      flow: inbound.flow,
      watch: inbound.watch,
      ...(deps.flowRuleStore ? { store: deps.flowRuleStore } : {}),
      audit,
      eventLoop: inbound.eventLoop,
      dependencies: () => [...(pgGuard ? [pgGuard.view()] : []), ...(deps.dependencies?.() ?? [])],
    }),
  );
  const clock = deps.clock ?? (() => new Date());
  const deadlines = deadlinePoller({
    pool,
    commands,
    clock,
    logger,
    registry,
    intervalMs: deps.config.DEADLINE_POLL_MS ?? 1000,
    leaseSeconds: deps.config.DEADLINE_LEASE_SECONDS ?? 30,
    ...(deps.deadlineBeforeFire ? { beforeFire: deps.deadlineBeforeFire } : {}),
  });
  // Booking rush (docs/adr/0015): the switch, the queue's producer, the requests' read side.
  const rushTopic = deps.config.BOOKING_REQUESTS_TOPIC ?? 'booking.requests';
  const rushModes = new RushModes(pool);
  const rushQueue = new RushQueue({
    kafka: createKafka(
      {
        KAFKA_BROKERS: deps.config.KAFKA_BROKERS ?? ['127.0.0.1:9092'],
        KAFKA_CLIENT_ID: deps.config.KAFKA_CLIENT_ID ?? 'booking-platform',
      },
      logger,
      `${deps.config.KAFKA_CLIENT_ID ?? 'booking-platform'}-rush`,
    ),
    topic: rushTopic,
    timeoutMs: deps.config.RUSH_PRODUCE_TIMEOUT_MS ?? 2_000,
    logger,
  });
  const rushAuto = rushAutoSwitch({
    deps,
    switchDeps: {
      store: sealingReads(store, patients),
      modes: rushModes,
      states: new ScheduleStates(10_000),
    },
    clock,
    logger,
  });
  const decisions = new DecisionListener(deps.pool.options.connectionString ?? '', logger);
  app
    .route(setRushRoute.path)
    .post(
      requireRole(...setRushRoute.auth.roles),
      databaseUnavailableAs503(
        setRushMode({ store: sealingReads(store, patients), idempotency, modes: rushModes, patients, clock }),
      ),
    )
    .all(methodNotAllowed('POST'));
  app.use(bookingRequestRoutes({ pool, listener: decisions, topic: rushTopic, patients }));
  app.use(
    commandRoutes({
      rushBooking: databaseUnavailableAs503(
        rushBooking({
          pool,
          modes: rushModes,
          queue: rushQueue,
          topic: rushTopic,
          idempotency,
          patients,
          clock,
          audit: { record: (db, entries) => audit.record(entries, db) },
          ...(rushAuto ? { auto: rushAuto } : {}),
        }),
      ),
      commands,
      appointments,
      patients,
      forget: forgetPatient({ store, idempotency, patients, audit, clock }),
      idempotency,
      ids: deps.ids ?? randomUUID,
      catalog: new PgCatalogDirectory(pool),
      bookingHorizonDays: deps.config.BOOKING_HORIZON_DAYS ?? 90,
      clock,
      hooks: deps.hooks ?? {},
      onReplay: () => replays.inc(),
    }),
  );
  service.finish();

  const purgeEvery = deps.idempotencyPurgeIntervalMs ?? 10 * 60_000;
  const purgeTimer =
    purgeEvery > 0
      ? setInterval(() => {
          idempotency
            .purgeExpired()
            .then((n) => {
              if (n > 0) logger.info({ purged: n }, 'purged expired idempotency keys');
            })
            .catch((err: unknown) => logger.warn({ err }, 'idempotency purge failed'));
        }, purgeEvery).unref()
      : undefined;

  return {
    app,
    handler: gate.wrap(app),
    gate,
    admin: service.admin,
    registry,
    idempotency,
    flow: inbound.flow,
    deadlines,
    beginShutdown: service.beginShutdown,
    close: () => {
      clearInterval(purgeTimer);
      inbound.stop();
      void rushQueue.close();
      void decisions.close();
    },
  };
}
