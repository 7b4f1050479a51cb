/**
 * `booking.events` → the delivery outbox (docs/adr/0016), with its own consumer group. Each chunk
 * of a partition's records is queued in ONE PostgreSQL transaction (each delivered event with its
 * institution's next number, an event already queued skipped), and the offset is committed only
 * after that transaction: a crash redelivers records, never loses one, and a redelivered record
 * finds its row and gets no second number. The institution is the schedule's, from its
 * ScheduleOpened (the stream's first event in the event store), remembered per schedule.
 */
import type { Consumer, EachBatchPayload, KafkaMessage } from 'kafkajs';
import { LRUCache } from 'lru-cache';
import type { Config } from '../platform/config.ts';
import { createKafka, ensureTopics } from '../platform/kafka.ts';
import type { Logger } from '../platform/logger.ts';
import { type Pool, type PoolClient, withTransaction } from '../platform/pg.ts';
import { decodeEventMessage, EVENT_HEADERS } from '../projections/relay/event-message.ts';
import { decodeHeaders } from '../projections/runtime/messages.ts';
import type { DeliverySettings } from './config.ts';
import { type ScheduleSession, selectForDelivery } from './delivered-events.ts';
import { enqueue, isIntegrated, sessionOf } from './outbox.ts';

const CHUNK = 200;

export interface Ingest {
  readonly ready: Promise<void>;
  /** Deliveries queued by this process so far. */
  queued(): number;
  stop(): Promise<void>;
}

interface Queued {
  institutionId: string;
  seq: number;
}

export async function startIngest(o: {
  config: Pick<Config, 'KAFKA_BROKERS' | 'KAFKA_CLIENT_ID'>;
  settings: DeliverySettings;
  pool: Pool;
  logger: Logger;
  onQueued: (institutionIds: ReadonlySet<string>) => void;
}): Promise<Ingest> {
  const { settings, logger } = o;
  const topic = settings.DELIVERY_EVENTS_TOPIC;
  const sessions = new LRUCache<string, ScheduleSession>({ max: 50_000 });
  const kafka = createKafka(o.config, logger, `${o.config.KAFKA_CLIENT_ID}-delivery`);
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic, numPartitions: 6, replicationFactor: 1 }]).finally(() =>
    admin.disconnect(),
  );

  const sessionFor = async (db: PoolClient, scheduleId: string) => {
    const known = sessions.get(scheduleId);
    if (known) return known;
    const s = await sessionOf(db, scheduleId);
    if (s) sessions.set(scheduleId, s);
    return s;
  };

  // Asked once per institution per chunk (the chunk is one transaction).
  let integratedInChunk = new Map<string, boolean>();
  const integrated = async (db: PoolClient, institutionId: string) => {
    let known = integratedInChunk.get(institutionId);
    if (known === undefined)
      integratedInChunk.set(institutionId, (known = await isIntegrated(db, institutionId)));
    return known;
  };

  const queueOne = async (db: PoolClient, m: KafkaMessage): Promise<Queued | undefined> => {
    const headers = decodeHeaders(m.headers);
    const decoded = decodeEventMessage({ value: m.value, headers });
    if (!decoded.ok) {
      logger.warn({ offset: m.offset, reason: decoded.reason }, 'skipped a record that is not an event');
      return undefined;
    }
    const envelope = decoded.envelope;
    const selected = selectForDelivery(envelope);
    if (selected.kind === 'skip') return undefined;
    const session = await sessionFor(db, selected.scheduleId);
    if (!session) {
      logger.warn(
        { eventId: envelope.eventId, scheduleId: selected.scheduleId },
        'no ScheduleOpened: not delivered',
      );
      return undefined;
    }
    if (!(await integrated(db, session.institutionId))) return undefined;
    const seq = await enqueue(db, {
      institutionId: session.institutionId,
      eventId: envelope.eventId,
      globalPosition: envelope.checkpoint,
      traceparent: headers[EVENT_HEADERS.traceparent] ?? envelope.metadata.traceparent,
      draft: selected.build(session),
    });
    return seq === undefined ? undefined : { institutionId: session.institutionId, seq };
  };

  let queued = 0;
  const eachBatch = async (payload: EachBatchPayload) => {
    const { batch } = payload;
    for (let i = 0; i < batch.messages.length; i += CHUNK) {
      if (!payload.isRunning() || payload.isStale()) return;
      const chunk = batch.messages.slice(i, i + CHUNK);
      integratedInChunk = new Map();
      const done = await withTransaction(o.pool, async (db) => {
        const out: Queued[] = [];
        for (const m of chunk) {
          const q = await queueOne(db, m);
          if (q) out.push(q);
        }
        return out;
      });
      queued += done.length;
      payload.resolveOffset(chunk.at(-1)!.offset);
      await payload.commitOffsetsIfNecessary();
      if (done.length > 0) o.onQueued(new Set(done.map((d) => d.institutionId)));
      await payload.heartbeat();
    }
  };

  const consumer: Consumer = kafka.consumer({
    groupId: settings.DELIVERY_GROUP,
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
    maxWaitTimeInMs: 50,
  });
  const ready = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: settings.DELIVERY_FROM_BEGINNING });
  // One partition at a time: two chunks queueing for the same institutions at once would take
  // their sequence rows' locks in different orders (a deadlock, then a retried batch). Queueing is
  // a few statements per event; the sending is what takes time, and it runs elsewhere.
  await consumer.run({ eachBatchAutoResolve: false, partitionsConsumedConcurrently: 1, eachBatch });
  logger.info({ topic, group: settings.DELIVERY_GROUP }, 'delivery ingest running');
  return {
    ready,
    queued: () => queued,
    stop: () => consumer.disconnect(),
  };
}
