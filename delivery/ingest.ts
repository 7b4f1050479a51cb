/**
 * `booking.events` → the delivery outbox (docs/adr/0016), with its own consumer group. Each chunk
 * of a partition's records is queued in ONE PostgreSQL transaction (each delivered event with its
 * institution's next number, an event already queued skipped), and the offset is committed only
 * after that transaction: a crash redelivers records, never loses one, and a redelivered record
 * finds its row and gets no second number. The institution is the schedule's, from its
 * ScheduleOpened (the stream's first event in the event store), remembered per schedule.
 *
 * A record the worker cannot read — not an event, or a delivered type of an unknown schema version
 * or breaking its schema — is not skipped (its hospital would silently miss it): it goes to the
 * dead-letter topic with the projectors' DLQ_HEADERS (`dlq-projector: delivery`), sent after the
 * chunk's transaction and before its offset is committed. A crash in between dead-letters it again
 * on redelivery (at least once, like the projectors' dead letters); it is never lost.
 */
import type { Consumer, EachBatchPayload, KafkaMessage, Producer } from 'kafkajs';
import { LRUCache } from 'lru-cache';
import type { Config } from '../platform/config.ts';
import { createKafka, ensureTopics } from '../platform/kafka.ts';
import type { Logger } from '../platform/logger.ts';
import { type Pool, type PoolClient, withTransaction } from '../platform/pg.ts';
import { decodeEventMessage, EVENT_HEADERS } from '../projections/relay/event-message.ts';
import {
  deadLetter,
  decodeHeaders,
  type PoisonMessage,
  toProjectorMessage,
} from '../projections/runtime/messages.ts';
import { deliveryDlqTopic, type DeliverySettings } from './config.ts';
import { type ScheduleSession, selectForDelivery } from './delivered-events.ts';
import { enqueue, isIntegrated, sessionOf } from './outbox.ts';

const CHUNK = 200;
/** The `dlq-projector` header of the worker's dead letters. */
export const DELIVERY_DLQ_NAME = 'delivery';

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

/** What one record came to: queued, rejected with a reason, or nothing (skipped, already queued). */
type Outcome = { queued: Queued } | { rejected: string } | undefined;

export async function startIngest(o: {
  config: Pick<Config, 'KAFKA_BROKERS' | 'KAFKA_CLIENT_ID'>;
  settings: DeliverySettings;
  pool: Pool;
  logger: Logger;
  onQueued: (institutionIds: ReadonlySet<string>) => void;
  onDeadLettered?: (count: number) => void;
}): Promise<Ingest> {
  const { settings, logger } = o;
  const topic = settings.DELIVERY_EVENTS_TOPIC;
  const dlqTopic = deliveryDlqTopic(settings);
  const sessions = new LRUCache<string, ScheduleSession>({ max: 50_000 });
  const kafka = createKafka(o.config, logger, `${o.config.KAFKA_CLIENT_ID}-delivery`);
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [
    { topic, numPartitions: 6, replicationFactor: 1 },
    { topic: dlqTopic, numPartitions: 1, replicationFactor: 1 },
  ]).finally(() => admin.disconnect());
  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();

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

  const queueOne = async (db: PoolClient, m: KafkaMessage): Promise<Outcome> => {
    const headers = decodeHeaders(m.headers);
    const decoded = decodeEventMessage({ value: m.value, headers });
    if (!decoded.ok) return { rejected: decoded.reason };
    const envelope = decoded.envelope;
    const selected = selectForDelivery(envelope);
    if (selected.kind === 'skip') return undefined;
    if (selected.kind === 'reject') return { rejected: selected.reason };
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
    return seq === undefined ? undefined : { queued: { institutionId: session.institutionId, seq } };
  };

  // Before the chunk's offset is committed: a crash before that redelivers (and dead-letters) again.
  const deadLetterAll = async (rejected: readonly PoisonMessage[]) => {
    if (rejected.length === 0) return;
    for (const { message, reason } of rejected)
      logger.warn(
        { dlqTopic, partition: message.partition, offset: message.offset, reason },
        'dead-lettering a record',
      );
    await deadLetter(producer, dlqTopic, DELIVERY_DLQ_NAME, rejected);
    o.onDeadLettered?.(rejected.length);
  };

  let queued = 0;
  const eachBatch = async (payload: EachBatchPayload) => {
    const { batch } = payload;
    for (let i = 0; i < batch.messages.length; i += CHUNK) {
      if (!payload.isRunning() || payload.isStale()) return;
      const chunk = batch.messages.slice(i, i + CHUNK);
      integratedInChunk = new Map();
      const { done, rejected } = await withTransaction(o.pool, async (db) => {
        const out = { done: [] as Queued[], rejected: [] as PoisonMessage[] };
        for (const m of chunk) {
          const r = await queueOne(db, m);
          if (r && 'queued' in r) out.done.push(r.queued);
          else if (r)
            out.rejected.push({
              message: toProjectorMessage(batch.topic, batch.partition, m),
              reason: r.rejected,
            });
        }
        return out;
      });
      queued += done.length;
      await deadLetterAll(rejected);
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
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: settings.DELIVERY_FROM_BEGINNING });
    // One partition at a time: two chunks queueing for the same institutions at once would take
    // their sequence rows' locks in different orders (a deadlock, then a retried batch). Queueing
    // is a few statements per event; the sending is what takes time, and it runs elsewhere.
    await consumer.run({ eachBatchAutoResolve: false, partitionsConsumedConcurrently: 1, eachBatch });
  } catch (err) {
    // A start that fails leaves no connection behind (the caller may retry the start).
    await consumer.disconnect().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    throw err;
  }
  logger.info({ topic, dlqTopic, group: settings.DELIVERY_GROUP }, 'delivery ingest running');
  return {
    ready,
    queued: () => queued,
    stop: async () => {
      try {
        await consumer.disconnect();
      } finally {
        await producer.disconnect();
      }
    },
  };
}
