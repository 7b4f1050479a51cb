/**
 * Starts the notifier (docs/adr/0014): the feeder (events → outbox, with the checkpoint) and the
 * sender (due notifications → the provider), each on its own loop, and the worker's health and
 * metrics servers. Used by main.ts and by the tests (port 0, their own provider, clock and name).
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { Gauge } from 'prom-client';
import type { Config } from '../platform/config.ts';
import { createRegistry, type Registry } from '../platform/http/metrics.ts';
import { createLogger, type Logger } from '../platform/logger.ts';
import { PgLocalProvider } from '../platform/notify/local-provider.ts';
import type { NotificationProvider } from '../platform/notify/provider.ts';
import { patientVault } from '../platform/patient-vault.ts';
import { createPool, type Pool } from '../platform/pg.ts';
import { serveWorker, type WorkerServer } from '../platform/worker-shell.ts';
import { feeder as createFeeder, type Feeder, initCheckpoint } from './feeder.ts';
import { sendLagSeconds } from './outbox.ts';
import { sender as createSender, type Sender } from './sender.ts';

export type NotificationsConfig = Pick<
  Config,
  | 'DATABASE_URL'
  | 'PG_POOL_MAX'
  | 'HOST'
  | 'ADMIN_PORT'
  | 'PATIENT_KEK'
  | 'NOTIFICATIONS_PORT'
  | 'NOTIFIER_NAME'
  | 'NOTIFY_START'
  | 'NOTIFY_PROVIDER'
  | 'NOTIFY_POLL_MS'
  | 'NOTIFY_LEASE_SECONDS'
  | 'NOTIFY_MAX_ATTEMPTS'
  | 'NOTIFY_RETRY_BASE_MS'
  | 'NOTIFY_HOLD_REMINDER_MINUTES'
  | 'NOTIFY_DAY_BEFORE_HOURS'
>;

export interface NotificationsDeps {
  logger?: Logger;
  registry?: Registry;
  /** A pool owned by the caller (stop does not end it). */
  pool?: Pool;
  /** Default: NOTIFY_PROVIDER's (the local one). */
  provider?: NotificationProvider;
  clock?: () => Date;
  /** Default NOTIFICATIONS_PORT; 0 picks a free one; null serves nothing (tests). */
  port?: number | null;
  adminPort?: number;
  /** Apply pending migrations first. Default true. */
  migrate?: boolean;
}

export interface NotificationsHandle {
  readonly port: number | undefined;
  readonly adminUrl: string | undefined;
  readonly feeder: Feeder;
  readonly sender: Sender;
  readonly registry: Registry;
  /** Feed then send until nothing is left to do now (tests). */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

/** Runs `step` every `intervalMs` after the previous run finished; remembers when it last succeeded. */
function loop(step: () => Promise<unknown>, intervalMs: number, logger: Logger, what: string) {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let stopped = intervalMs <= 0;
  let lastOk = Date.now();
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = step()
        .then(() => (lastOk = Date.now()))
        .catch((err: unknown) => logger.warn({ err }, `${what} failed; retried next poll`))
        .finally(schedule);
    }, intervalMs);
  };
  schedule();
  return {
    lastOkAgoMs: () => Date.now() - lastOk,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

export async function startNotifications(
  c: NotificationsConfig,
  deps: NotificationsDeps = {},
): Promise<NotificationsHandle> {
  const logger = deps.logger ?? createLogger('notifications');
  if (deps.migrate ?? true) {
    const { migrate } = await import('../infra/migrate.ts');
    await migrate(c.DATABASE_URL, (message) => logger.info(message));
  }
  const pool = deps.pool ?? createPool(c, { applicationName: 'notifications', logger });
  const registry = deps.registry ?? createRegistry();
  const clock = deps.clock ?? (() => new Date());
  await initCheckpoint(pool, c.NOTIFIER_NAME, c.NOTIFY_START);
  const feeder = createFeeder({
    pool,
    name: c.NOTIFIER_NAME,
    batch: 500,
    settings: {
      holdReminderMinutes: c.NOTIFY_HOLD_REMINDER_MINUTES,
      dayBeforeHours: c.NOTIFY_DAY_BEFORE_HOURS,
    },
  });
  const sender = createSender({
    pool,
    provider: deps.provider ?? new PgLocalProvider(pool),
    // No cache: a forgotten patient gets nothing from the next send on.
    vault: patientVault(pool, c, { ttlMs: 0 }),
    clock,
    logger,
    registry,
    me: `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`,
    leaseSeconds: c.NOTIFY_LEASE_SECONDS,
    batch: 100,
    maxAttempts: c.NOTIFY_MAX_ATTEMPTS,
    retryBaseMs: c.NOTIFY_RETRY_BASE_MS,
  });
  new Gauge({
    name: 'notifications_lag_seconds',
    help: 'How long the oldest due, unsent notification has waited',
    registers: [registry],
    collect: async function (this: Gauge) {
      this.set(await sendLagSeconds(pool, clock()).catch(() => -1));
    },
  });
  new Gauge({
    name: 'notifications_events_behind',
    help: 'Events of the store the notifier has not read yet (capped at 1000)',
    registers: [registry],
    collect: async function (this: Gauge) {
      this.set(await feeder.behind().catch(() => -1));
    },
  });

  const feedAll = async () => {
    while ((await feeder.pollOnce()) > 0);
  };
  const sendAll = async () => {
    while ((await sender.pollOnce()) > 0);
  };
  const feeding = loop(feedAll, c.NOTIFY_POLL_MS, logger, 'reading events');
  const sending = loop(sendAll, c.NOTIFY_POLL_MS, logger, 'sending notifications');
  const stalledAfterMs = Math.max(60_000, c.NOTIFY_POLL_MS * 20);
  const port = deps.port === undefined ? c.NOTIFICATIONS_PORT : deps.port;
  let stopping = false;
  const server: WorkerServer | undefined =
    port === null
      ? undefined
      : await serveWorker({
          registry,
          port,
          host: c.HOST,
          ...((deps.adminPort ?? c.ADMIN_PORT) === undefined
            ? {}
            : { adminPort: deps.adminPort ?? c.ADMIN_PORT }),
          health: {
            checks: { postgres: () => pool.query('SELECT 1') },
            liveness:
              c.NOTIFY_POLL_MS > 0
                ? {
                    feeder: () => {
                      if (feeding.lastOkAgoMs() > stalledAfterMs)
                        throw new Error('no successful read for a minute');
                    },
                    sender: () => {
                      if (sending.lastOkAgoMs() > stalledAfterMs)
                        throw new Error('no successful send poll for a minute');
                    },
                  }
                : {},
            isShuttingDown: () => stopping,
          },
        });
  return {
    port: server?.port,
    adminUrl: server?.adminUrl,
    feeder,
    sender,
    registry,
    drain: async () => {
      await feedAll();
      await sendAll();
    },
    stop: async () => {
      stopping = true;
      await Promise.all([feeding.stop(), sending.stop()]);
      await server?.close();
      if (!deps.pool) await pool.end();
    },
  };
}
