/**
 * The relay: tails the event store's global log (readAll) and publishes every event to Kafka.
 *
 * - Position: a durable checkpoint in `relay_checkpoints` (migration 100), moved only after
 *   Kafka acknowledged the whole batch (idempotent producer, acks=all). A crash between the ack
 *   and the checkpoint write re-publishes that one batch on restart: duplicates are bounded to one
 *   batch and harmless (consumers guard on the stream revision). Nothing is ever skipped, since
 *   readAll never skips a late commit.
 * - Order: key = stream id, so one stream's events land in one partition, in readAll order.
 * - Throughput: up to `batchSize` events per read, one `sendBatch` (traced-send.ts: each event's
 *   record continues the trace its metadata names); polls again at once while
 *   batches come back full, and backs off (up to `maxIdleMs`) while the log is idle.
 * - One active relay per name: a session advisory lock, so a second replica waits as a standby
 *   and takes over when the first one dies (PostgreSQL drops the lock with the connection).
 * - Lag: see `relayLag` — events visible to readAll after the checkpoint, counted exactly.
 */
import type { Kafka, Producer } from 'kafkajs';
import pg from 'pg';
import type { Registry } from 'prom-client';
import type { Checkpoint, EventStore } from '../../platform/event-store/event-store.ts';
import { decodeCheckpoint, encodeCheckpoint } from '../../platform/event-store/pg-event-store.ts';
import { defaultPartitioner } from '../../platform/kafka.ts';
import type { Logger } from '../../platform/logger.ts';
import type { Pool, Queryable } from '../../platform/pg.ts';
import { describeError } from '../runtime/errors.ts';
import { projectionMetrics } from '../runtime/metrics.ts';
import { sendTraced } from './traced-send.ts';

export type RelayStart = 'beginning' | 'end' | Checkpoint;

export interface RelayOptions {
  /** Name of the checkpoint row (and metric label), e.g. `booking.events`. */
  name: string;
  store: Pick<EventStore<unknown>, 'readAll'>;
  pool: Pool;
  /** Connection string for the dedicated advisory-lock session. */
  databaseUrl: string;
  kafka: Kafka;
  topic: string;
  logger: Logger;
  batchSize?: number;
  /** Longest sleep between polls of an idle log. Default 100 ms. */
  maxIdleMs?: number;
  /** Where a relay with no checkpoint row starts. Default: the beginning of the log. */
  startFrom?: RelayStart;
  registry?: Registry;
  /** Test hook: called after Kafka acked a batch and before the checkpoint is saved. */
  afterSend?: (events: number) => Promise<void> | void;
}

/** Checkpoint of the last event readAll would return right now (undefined: empty log). */
export async function headCheckpoint(db: Queryable): Promise<Checkpoint | undefined> {
  const { rows } = await db.query<{ xid: string; global_position: string }>(
    `SELECT transaction_id::text AS xid, global_position FROM events
     WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
     ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
  );
  const row = rows[0];
  return row ? encodeCheckpoint(row.xid, row.global_position) : undefined;
}

/**
 * Lag of a relay: the number of events readAll would return after `checkpoint` right now, i.e.
 * committed, visible and not yet published (capped at `cap` to bound the cost of a huge backlog).
 */
export async function relayLag(
  db: Queryable,
  checkpoint: Checkpoint | undefined,
  cap = 1_000_000,
): Promise<number> {
  const from = checkpoint ? decodeCheckpoint(checkpoint) : { transactionId: 0n, position: 0n };
  const { rows } = await db.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM (
       SELECT 1 FROM events
       WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint)
         AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
       LIMIT $3) pending`,
    [String(from.transactionId), String(from.position), cap],
  );
  return Number(rows[0]?.n ?? 0);
}

export async function loadCheckpoint(db: Queryable, name: string): Promise<Checkpoint | undefined> {
  const { rows } = await db.query<{ checkpoint: string }>(
    'SELECT checkpoint FROM relay_checkpoints WHERE name = $1',
    [name],
  );
  return rows[0]?.checkpoint;
}

export async function saveCheckpoint(
  db: Queryable,
  name: string,
  checkpoint: Checkpoint,
  published: number,
): Promise<void> {
  await db.query(
    `INSERT INTO relay_checkpoints (name, checkpoint, published) VALUES ($1, $2, $3)
     ON CONFLICT (name) DO UPDATE
       SET checkpoint = EXCLUDED.checkpoint,
           published = relay_checkpoints.published + EXCLUDED.published,
           updated_at = now()`,
    [name, checkpoint, published],
  );
}

export interface RelayStatus {
  /** False once the loop ended for good (crashed): the process must be restarted. */
  alive: boolean;
  /** Batches failed in a row (Kafka or PostgreSQL unavailable); 0 after a success. */
  consecutiveErrors: number;
  lastError?: string;
  /** When a batch was last published, or an idle poll came back (ms since epoch). */
  lastProgressAt?: number;
}

export interface RelayHandle {
  /** Resolves when the relay holds the lock and has loaded its checkpoint. */
  readonly ready: Promise<void>;
  /** Resolves once stopped; rejects if the loop crashed for good (never unhandled). */
  readonly done: Promise<void>;
  status(): RelayStatus;
  /** Events published (acked) by this process. */
  published(): number;
  checkpoint(): Checkpoint | undefined;
  lag(): Promise<number>;
  stop(): Promise<void>;
}

export function startRelay(opts: RelayOptions): RelayHandle {
  const batchSize = opts.batchSize ?? 500;
  const maxIdleMs = opts.maxIdleMs ?? 100;
  const log = opts.logger.child({ relay: opts.name, topic: opts.topic });
  const producer: Producer = opts.kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: defaultPartitioner,
  });
  let running = true;
  let checkpoint: Checkpoint | undefined;
  let published = 0;
  let lockClient: pg.Client | undefined;
  let wake: (() => void) | undefined;
  const status: RelayStatus = { alive: true, consecutiveErrors: 0 };
  let producerConnected = false;
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  const pause = async (ms: number) => {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    wake = undefined;
  };

  async function acquireLock(): Promise<void> {
    while (running) {
      const client = new pg.Client({
        connectionString: opts.databaseUrl,
        application_name: `relay:${opts.name}`,
      });
      try {
        await client.connect();
        const { rows } = await client.query<{ locked: boolean }>(
          "SELECT pg_try_advisory_lock(hashtextextended('relay:' || $1, 0)) AS locked",
          [opts.name],
        );
        if (rows[0]?.locked) {
          client.on('error', (err) => {
            log.error({ err: describeError(err) }, 'lost the relay lock session');
            lockClient = undefined;
          });
          lockClient = client;
          return;
        }
        log.info('another relay holds the lock: standing by');
      } catch (err) {
        log.warn({ err: describeError(err) }, 'cannot take the relay lock yet');
      }
      await client.end().catch(() => undefined);
      await pause(1_000);
    }
  }

  async function loop(): Promise<void> {
    let idle = 0;
    let errors = 0;
    while (running) {
      try {
        // Inside the retry: a broker down at start is an outage to wait out, not a crash.
        if (!producerConnected) {
          await producer.connect();
          producerConnected = true;
        }
        if (!lockClient) {
          await acquireLock();
          if (!running) break;
          checkpoint = await loadCheckpoint(opts.pool, opts.name);
          if (checkpoint === undefined && opts.startFrom !== undefined && opts.startFrom !== 'beginning') {
            checkpoint = opts.startFrom === 'end' ? await headCheckpoint(opts.pool) : opts.startFrom;
            if (checkpoint !== undefined) await saveCheckpoint(opts.pool, opts.name, checkpoint, 0);
          }
          log.info({ checkpoint }, 'relay started');
          markReady();
        }
        const { events, checkpoint: next } = await opts.store.readAll(checkpoint, batchSize);
        if (events.length === 0 || next === undefined) {
          errors = 0;
          status.consecutiveErrors = 0;
          status.lastProgressAt = Date.now();
          idle = Math.min(maxIdleMs, Math.max(5, idle * 2));
          await pause(idle);
          continue;
        }
        idle = 0;
        await sendTraced(producer, opts.topic, events);
        await opts.afterSend?.(events.length);
        await saveCheckpoint(opts.pool, opts.name, next, events.length);
        checkpoint = next;
        published += events.length;
        errors = 0;
        status.consecutiveErrors = 0;
        status.lastProgressAt = Date.now();
      } catch (err) {
        errors += 1;
        status.consecutiveErrors = errors;
        status.lastError = describeError(err);
        // At most 2 s: the relay resumes within seconds once Kafka (or PostgreSQL) answers again.
        const backoff = Math.min(2_000, 100 * 2 ** Math.min(errors, 6));
        log.error(
          { err: describeError(err), backoffMs: backoff },
          'relay batch failed; retrying from the checkpoint',
        );
        // Re-read the durable checkpoint: whatever was sent but not checkpointed is sent again.
        await pause(backoff);
        if (lockClient) checkpoint = await loadCheckpoint(opts.pool, opts.name).catch(() => checkpoint);
      }
    }
  }

  const metrics = opts.registry ? projectionMetrics(opts.registry) : undefined;
  const lag = () => relayLag(opts.pool, checkpoint);
  const untrack = metrics?.trackLag(`relay:${opts.name}`, lag);

  const done = loop().catch((err: unknown) => {
    status.alive = false;
    status.lastError = describeError(err);
    log.fatal({ err: status.lastError }, 'relay loop crashed');
    throw err;
  });
  done.catch(() => undefined); // observed by whoever awaits it; never an unhandled rejection
  const finished = done.catch(() => undefined);

  return {
    ready,
    done,
    status: () => ({ ...status }),
    published: () => published,
    checkpoint: () => checkpoint,
    lag,
    async stop() {
      running = false;
      wake?.();
      await finished;
      untrack?.();
      await producer.disconnect();
      await lockClient?.end().catch(() => undefined);
      lockClient = undefined;
      log.info({ published, checkpoint }, 'relay stopped');
    },
  };
}
