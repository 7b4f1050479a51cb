/**
 * Starts the delivery worker (docs/adr/0016): the ingest (booking.events → outbox, own consumer
 * group), one sender loop per integrated institution, the admin API and public health on
 * DELIVERY_PORT (3007), /metrics and the detailed health on the admin port (4007).
 * Used by main.ts and by the tests and the benchmark (port 0, their own group and topic).
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { hostname } from 'node:os';
import type { Config } from '../platform/config.ts';
import { requirePostgresEventStore } from '../platform/event-store/index.ts';
import { defaultAdminPort, serveHandler, type AdminServer } from '../platform/http/admin.ts';
import { jwtSettingsOf } from '../platform/http/auth.ts';
import { createRegistry, type Registry } from '../platform/http/metrics.ts';
import { boundPort, connectionLimitsOf, drain, listen } from '../platform/http/server.ts';
import { serviceApp } from '../platform/http/service-app.ts';
import { createLogger, type Logger } from '../platform/logger.ts';
import { patientVault } from '../platform/patient-vault.ts';
import { createPool, type Pool } from '../platform/pg.ts';
import { deliveryAdminRouter } from './admin-routes.ts';
import type { DeliverySettings } from './config.ts';
import { startIngest, type Ingest } from './ingest.ts';
import { deliveryMetrics } from './metrics.ts';
import { createSenders, type Senders } from './senders.ts';

export interface DeliveryOptions {
  config: Config;
  settings: DeliverySettings;
  logger?: Logger;
  registry?: Registry;
  /** A pool owned by the caller (stop does not end it). */
  pool?: Pool;
  /** Apply pending migrations first. Default true. */
  migrate?: boolean;
  /** Default DELIVERY_PORT (PORT overrides); 0 picks a free one. */
  port?: number;
  adminPort?: number;
}

export interface DeliveryHandle {
  readonly url: string;
  readonly adminUrl: string;
  /** Resolves once the consumer joined its group. */
  readonly ready: Promise<void>;
  readonly senders: Senders;
  readonly ingest: Ingest;
  stop(): Promise<void>;
}

export async function startDelivery(o: DeliveryOptions): Promise<DeliveryHandle> {
  const { config, settings } = o;
  requirePostgresEventStore(config, 'the delivery worker', 'it queues deliveries in PostgreSQL transactions');
  const logger = o.logger ?? createLogger('delivery', config.LOG_LEVEL);
  if (o.migrate ?? true) {
    const { migrate } = await import('../infra/migrate.ts');
    await migrate(config.DATABASE_URL, (message) => logger.info(message));
  }
  const pool = o.pool ?? createPool(config, { applicationName: 'delivery', logger });
  const registry = o.registry ?? createRegistry();
  // The metrics read the senders when scraped; the senders report each attempt to the metrics.
  const made: { senders?: Senders } = {};
  const { onOutcome, onDeadLettered } = deliveryMetrics(registry, pool, () => made.senders);
  const s = createSenders({
    pool,
    // No cache: a patient forgotten is delivered without identity from the next send on.
    vault: patientVault(pool, config, { ttlMs: 0 }),
    settings,
    logger,
    me: `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`,
    onOutcome,
  });
  made.senders = s;
  await s.refresh();
  const ingest = await startIngest({
    config,
    settings,
    pool,
    logger,
    onQueued: (ids) => ids.forEach((id) => s.wake(id)),
    onDeadLettered,
  });

  const service = serviceApp({
    logger,
    registry,
    readiness: {
      checks: { postgres: () => pool.query('SELECT 1') },
      liveness: {
        endpoints: () => {
          if (s.configAgeMs() > 60_000) throw new Error('institution endpoints not read for a minute');
        },
      },
    },
  });
  service.app.use(deliveryAdminRouter({ pool, senders: s, jwt: jwtSettingsOf(config) }));
  const app = service.finish();
  const port = o.port ?? config.PORT ?? settings.DELIVERY_PORT;
  const server: Server = await listen(app, port, config.HOST, connectionLimitsOf(config));
  const bound = boundPort(server);
  const admin: AdminServer = await serveHandler(
    service.admin,
    defaultAdminPort(port === 0 ? 0 : bound, o.adminPort ?? config.ADMIN_PORT),
    config.HOST,
  );
  logger.info({ port: bound, adminPort: admin.port }, 'delivery worker listening');

  let stopping: Promise<void> | undefined;
  return {
    url: `http://${config.HOST}:${bound}`,
    adminUrl: admin.url,
    ready: ingest.ready,
    senders: s,
    ingest,
    stop: () =>
      (stopping ??= (async () => {
        service.beginShutdown();
        await ingest.stop();
        await s.stop();
        await Promise.all([drain(server, 2_000), admin.close()]);
        if (!o.pool) await pool.end();
      })()),
  };
}
