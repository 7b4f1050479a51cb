/**
 * Replays a projector's dead letters through its handler, once the cause is fixed.
 *
 * Reads the dead-letter topic with its own consumer group (`<projector group>.dlq-replay`), so
 * each dead letter is replayed once: the next run starts after the last one. Stops at the high
 * watermark seen at start. Messages of other projectors are skipped. Each message is handed to
 * the handler as it was originally (topic, partition, offset and headers restored), with the same
 * bounded retries and isolation as the live projector; one that fails again is dead-lettered
 * again with the new reason (after the stop mark, so not retried in this run).
 */
import type { Kafka } from 'kafkajs';
import { auditOperatorAction } from '../../platform/audit.ts';
import type { Logger } from '../../platform/logger.ts';
import type { Queryable } from '../../platform/pg.ts';
import { consumerGroupLag, highWatermarks } from './lag.ts';
import { deadLetter, DLQ_HEADERS, type ProjectorMessage, toProjectorMessage } from './messages.ts';
import { type BatchHandler, createChunkProcessor, type RetryOptions } from './projector-runtime.ts';

export interface ReplayOptions {
  kafka: Kafka;
  dlqTopic: string;
  /** The projector whose dead letters to replay (the `dlq-projector` header). */
  projector: string;
  groupId: string;
  handleBatch: BatchHandler;
  logger: Logger;
  retry?: Partial<RetryOptions>;
  timeoutMs?: number;
}

export interface ReplayResult {
  replayed: number;
  failedAgain: number;
  skipped: number;
}

const dlqHeaderNames = new Set<string>(Object.values(DLQ_HEADERS));

/** The message as the projector first saw it. */
export function originalMessage(m: ProjectorMessage): ProjectorMessage {
  const headers = Object.fromEntries(Object.entries(m.headers).filter(([k]) => !dlqHeaderNames.has(k)));
  return {
    ...m,
    topic: m.headers[DLQ_HEADERS.topic] ?? m.topic,
    partition: Number(m.headers[DLQ_HEADERS.partition] ?? m.partition),
    offset: m.headers[DLQ_HEADERS.offset] ?? m.offset,
    headers,
  };
}

/** The audit entry of an operator's replay (`projections.dlq_replay`), recorded before it starts; returns its trace id. */
export const auditDeadLetterReplay = (
  pool: Queryable,
  opts: Pick<ReplayOptions, 'dlqTopic' | 'projector'>,
): Promise<string> =>
  auditOperatorAction(pool, {
    action: 'projections.dlq_replay',
    subject: { type: 'dead_letters', id: opts.dlqTopic },
    detail: { projector: opts.projector },
  });

export async function replayDeadLetters(opts: ReplayOptions): Promise<ReplayResult> {
  const result: ReplayResult = { replayed: 0, failedAgain: 0, skipped: 0 };
  const admin = opts.kafka.admin();
  const producer = opts.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const consumer = opts.kafka.consumer({ groupId: opts.groupId });
  const abort = new AbortController();
  await admin.connect();
  await producer.connect();
  try {
    const marks = await highWatermarks(admin, [opts.dlqTopic]);
    const atEnd = async () => {
      const { partitions } = await consumerGroupLag(admin, opts.groupId, [opts.dlqTopic]);
      return partitions.every((p) => {
        const end = marks.get(`${p.topic}:${p.partition}`) ?? 0;
        return end === 0 || (p.committed ?? 0) >= end;
      });
    };
    if (await atEnd()) return result;

    const processor = createChunkProcessor({
      name: opts.projector,
      handleBatch: opts.handleBatch,
      ...(opts.retry ? { retry: opts.retry } : {}),
      logger: opts.logger,
      signal: abort.signal,
    });
    await consumer.connect();
    await consumer.subscribe({ topic: opts.dlqTopic, fromBeginning: true });
    await consumer.run({
      eachBatchAutoResolve: false,
      autoCommitThreshold: 1,
      eachBatch: async (payload) => {
        const { batch } = payload;
        const end = marks.get(`${batch.topic}:${batch.partition}`) ?? 0;
        const inRange = batch.messages.filter((m) => Number(m.offset) < end);
        const last = inRange.at(-1);
        if (!last) return;
        const messages = inRange.map((m) => toProjectorMessage(batch.topic, batch.partition, m));
        const mine = messages
          .filter((m) => m.headers[DLQ_HEADERS.projector] === opts.projector)
          .map(originalMessage);
        result.skipped += messages.length - mine.length;
        const { applied, poison } = await processor.process(mine, () => payload.heartbeat());
        await deadLetter(producer, opts.dlqTopic, opts.projector, poison);
        for (const p of poison)
          opts.logger.warn({ offset: p.message.offset, reason: p.reason }, 'failed again');
        result.replayed += applied;
        result.failedAgain += poison.length;
        payload.resolveOffset(last.offset);
        await payload.commitOffsetsIfNecessary();
      },
    });
    const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
    while (!(await atEnd())) {
      if (Date.now() > deadline) throw new Error('timed out replaying the dead-letter topic');
      await new Promise((r) => setTimeout(r, 200));
    }
    return result;
  } finally {
    abort.abort();
    await consumer.disconnect();
    await producer.disconnect();
    await admin.disconnect();
  }
}
