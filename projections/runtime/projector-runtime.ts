/**
 * The projector runtime: a kafkajs consumer group that hands batches to a handler, commits
 * offsets only after the handler's writes succeeded, and routes poison messages to a
 * dead-letter topic so one bad record never stops the projection.
 *
 * Delivery is at-least-once: after a crash or a rebalance the uncommitted tail of a batch is
 * delivered again, so handlers MUST be idempotent (e.g. guard writes with the event's stream
 * revision, or use external versioning). The runtime is generic: it knows nothing about the
 * payload, so the event projectors (issue 4) and the CDC projectors (issue 5) share it.
 *
 * Failure handling, per chunk of up to `maxBatchSize` messages:
 *   1. `handleBatch(chunk)`; transient failures (store down, timeouts: `retry.isTransient`) are
 *      retried without limit, with exponential backoff and heartbeats, until stop;
 *   2. other failures are retried `retry.maxRetries` times, then the chunk is replayed one
 *      message at a time (same bounded retry) to isolate the culprit;
 *   3. a message that still fails, or that the handler reports in `poison`, goes to `dlqTopic`
 *      with the reason and its origin in headers (DLQ_HEADERS); the rest of the chunk is applied;
 *   4. resolveOffset(last) → heartbeat; after the fetched batch's last chunk,
 *      commitOffsetsIfNecessary (threshold 1: commit now) — one commit per Kafka batch.
 *
 * Fetch settings: minBytes 1 (kafkajs default, kept on purpose) answers a fetch as soon as one
 * record is there, so a quiet topic's event reaches the handler in one round trip (freshness);
 * maxWaitTimeInMs only bounds how long an empty fetch waits. maxBytesPerPartition (kafkajs
 * default 1 MB, ~900 events of `booking.events`) sets how much of a backlog one fetched batch,
 * and so one commit, covers; the event projectors raise it with `maxBatchSize` so that a
 * backlog is applied in chunks of a few thousand (projections/config.ts).
 */
import { performance } from 'node:perf_hooks';
import { ExponentialBackoff, handleWhen, retry, wrap } from 'cockatiel';
import type { Admin, Consumer, ConsumerConfig, Kafka, Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { Logger } from '../../platform/logger.ts';
import { BatchInterrupted, describeError, isTransientError } from './errors.ts';
import { consumerGroupLag, type PartitionLag } from './lag.ts';
import { deadLetter, type PoisonMessage, type ProjectorMessage, toProjectorMessage } from './messages.ts';
import { projectionMetrics } from './metrics.ts';
import { chunkSpan } from './tracing.ts';

/** What a handler may report: messages it could not apply and will never be able to. */
export interface BatchOutcome {
  poison?: PoisonMessage[];
}

export interface BatchContext {
  /** Keeps the group membership alive during long work; throws BatchInterrupted on rebalance. */
  heartbeat(): Promise<void>;
  /** Aborted when the projector stops. */
  signal: AbortSignal;
  logger: Logger;
  projector: string;
}

export type BatchHandler = (
  messages: readonly ProjectorMessage[],
  ctx: BatchContext,
) => Promise<BatchOutcome | undefined | void>;

export interface RetryOptions {
  /** Retries of a failing chunk (then of each of its messages) before it is dead-lettered. Default 3. */
  maxRetries: number;
  initialDelayMs: number;
  maxDelayMs: number;
  /** Errors retried without limit instead of being dead-lettered. Default: isTransientError. */
  isTransient: (err: unknown) => boolean;
}

export const defaultRetry: RetryOptions = {
  maxRetries: 3,
  initialDelayMs: 100,
  maxDelayMs: 5_000,
  isTransient: isTransientError,
};

export interface RunProjectorOptions {
  kafka: Kafka;
  /** Projector name: metric label, `dlq-projector` header, default group id. */
  name: string;
  groupId?: string;
  topics: readonly string[];
  handleBatch: BatchHandler;
  /** Where poison messages go. Without it, a poison message stops the projector (it is retried forever). */
  dlqTopic?: string;
  retry?: Partial<RetryOptions>;
  logger: Logger;
  /** A new group starts at the beginning of the topics (default true). */
  fromBeginning?: boolean;
  /** Most messages per handler call (default 1000); a fetched batch is split into chunks of this size. */
  maxBatchSize?: number;
  /** Partitions processed concurrently by this member (default 1). */
  partitionsConsumedConcurrently?: number;
  consumerConfig?: Partial<Omit<ConsumerConfig, 'groupId'>>;
  /** prom-client registry for projector_messages_total, projector_batch_seconds, projection_lag_events. */
  registry?: Registry;
}

export interface ProjectorStats {
  applied: number;
  deadLettered: number;
  batches: number;
}

export interface ProjectorHandle {
  readonly name: string;
  readonly groupId: string;
  /** Resolves once the consumer joined its group the first time. */
  readonly ready: Promise<void>;
  /** Rejects if the consumer crashes for good (kafkajs gave up restarting). */
  readonly done: Promise<void>;
  readonly stats: Readonly<ProjectorStats>;
  /** High watermark − committed offset, summed over the topics' partitions. */
  lag(): Promise<number>;
  lagByPartition(): Promise<PartitionLag[]>;
  stop(): Promise<void>;
}

/** Applies chunks with bounded retries and poison isolation; shared by the consumer loop and DLQ replay. */
export interface ChunkProcessor {
  process(
    messages: readonly ProjectorMessage[],
    heartbeat: () => Promise<void>,
  ): Promise<{ applied: number; poison: PoisonMessage[] }>;
}

export function createChunkProcessor(opts: {
  name: string;
  handleBatch: BatchHandler;
  retry?: Partial<RetryOptions>;
  logger: Logger;
  signal: AbortSignal;
}): ChunkProcessor {
  const policy = { ...defaultRetry, ...opts.retry };
  const backoff = () =>
    new ExponentialBackoff({ initialDelay: policy.initialDelayMs, maxDelay: policy.maxDelayMs });
  const notInterrupted = (err: Error) => !(err instanceof BatchInterrupted) && !opts.signal.aborted;
  // Outer: transient errors, no limit. Inner: anything else, bounded.
  const transient = retry(
    handleWhen((err) => notInterrupted(err) && policy.isTransient(err)),
    { backoff: backoff() },
  );
  const bounded = retry(
    handleWhen((err) => notInterrupted(err) && !policy.isTransient(err)),
    { maxAttempts: policy.maxRetries, backoff: backoff() },
  );
  const combined = wrap(transient, bounded);
  transient.onRetry((r) =>
    opts.logger.warn(
      {
        projector: opts.name,
        attempt: r.attempt,
        delayMs: r.delay,
        err: 'error' in r ? describeError(r.error) : undefined,
      },
      'transient failure, retrying',
    ),
  );

  const run = (messages: readonly ProjectorMessage[], heartbeat: () => Promise<void>) =>
    combined.execute(async ({ attempt }) => {
      if (attempt > 0) await heartbeat();
      const ctx: BatchContext = { heartbeat, signal: opts.signal, logger: opts.logger, projector: opts.name };
      const outcome = await opts.handleBatch(messages, ctx);
      return outcome ? (outcome.poison ?? []) : [];
    }, opts.signal);

  const fatal = (err: unknown) =>
    err instanceof BatchInterrupted || opts.signal.aborted || policy.isTransient(err);

  return {
    async process(messages, heartbeat) {
      if (messages.length === 0) return { applied: 0, poison: [] };
      try {
        const poison = await run(messages, heartbeat);
        return { applied: messages.length - poison.length, poison };
      } catch (err) {
        if (fatal(err)) throw err;
        opts.logger.warn(
          { projector: opts.name, err: describeError(err), messages: messages.length },
          'chunk keeps failing: isolating the poison message(s) one by one',
        );
      }
      const poison: PoisonMessage[] = [];
      for (const message of messages) {
        try {
          poison.push(...(await run([message], heartbeat)));
        } catch (err) {
          if (fatal(err)) throw err;
          poison.push({ message, reason: describeError(err) });
        }
      }
      return { applied: messages.length - poison.length, poison };
    },
  };
}

export async function runProjector(opts: RunProjectorOptions): Promise<ProjectorHandle> {
  const groupId = opts.groupId ?? opts.name;
  const maxBatchSize = opts.maxBatchSize ?? 1000;
  const log = opts.logger.child({ projector: opts.name });
  const abort = new AbortController();
  const stats: ProjectorStats = { applied: 0, deadLettered: 0, batches: 0 };
  const metrics = opts.registry ? projectionMetrics(opts.registry) : undefined;

  const consumer: Consumer = opts.kafka.consumer({
    // After a kill -9 the group waits for the dead member's session to expire before the restarted
    // process gets its partitions (kafkajs has no static membership): 6 s, the broker's default
    // group.min.session.timeout.ms, bounds that freeze (30 s froze the read side for half a
    // minute; 10 s still left it 10.6 s stale in the chaos run). Heartbeats every second (and
    // between chunks, see `beat`) keep a live member in well within it.
    sessionTimeout: 6_000,
    heartbeatInterval: 1_000,
    ...opts.consumerConfig,
    groupId,
  });
  const admin: Admin = opts.kafka.admin();
  const producer: Producer | undefined = opts.dlqTopic
    ? opts.kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
    : undefined;

  const processor = createChunkProcessor({
    name: opts.name,
    handleBatch: opts.handleBatch,
    ...(opts.retry ? { retry: opts.retry } : {}),
    logger: log,
    signal: abort.signal,
  });

  let joined!: () => void;
  const ready = new Promise<void>((resolve) => (joined = resolve));
  let crashed!: (err: unknown) => void;
  let finished!: () => void;
  const done = new Promise<void>((resolve, reject) => {
    finished = resolve;
    crashed = reject;
  });
  done.catch(() => undefined); // observed by whoever awaits it; never an unhandled rejection
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    log.info(
      { groupId, memberId: e.payload.memberId, assignment: e.payload.memberAssignment },
      'joined group',
    );
    joined();
  });
  consumer.on(consumer.events.CRASH, (e) => {
    log.error({ err: describeError(e.payload.error), restart: e.payload.restart }, 'consumer crashed');
    if (!e.payload.restart) crashed(e.payload.error);
  });

  await admin.connect();
  await producer?.connect();
  await consumer.connect();
  await consumer.subscribe({ topics: [...opts.topics], fromBeginning: opts.fromBeginning ?? true });

  await consumer.run({
    eachBatchAutoResolve: false,
    autoCommit: true,
    autoCommitThreshold: 1,
    partitionsConsumedConcurrently: opts.partitionsConsumedConcurrently ?? 1,
    eachBatch: async (payload) => {
      const { batch } = payload;
      const beat = async () => {
        try {
          await payload.heartbeat();
        } catch (err) {
          throw new BatchInterrupted(`heartbeat failed: ${describeError(err)}`, { cause: err });
        }
      };
      for (let i = 0; i < batch.messages.length; i += maxBatchSize) {
        if (!payload.isRunning() || payload.isStale() || abort.signal.aborted) return;
        const chunk = batch.messages
          .slice(i, i + maxBatchSize)
          .map((m) => toProjectorMessage(batch.topic, batch.partition, m));
        const last = chunk.at(-1);
        if (!last) continue;
        const started = performance.now();
        const { applied, poison } = await chunkSpan(opts.name, groupId, chunk, () =>
          processor.process(chunk, beat),
        );
        if (poison.length > 0) {
          if (!producer || !opts.dlqTopic) {
            throw new Error(
              `${poison.length} poison message(s) and no dead-letter topic: ${poison[0]?.reason ?? ''}`,
            );
          }
          for (const p of poison) {
            log.warn(
              {
                topic: p.message.topic,
                partition: p.message.partition,
                offset: p.message.offset,
                reason: p.reason,
              },
              'dead-lettering poison message',
            );
          }
          await deadLetter(producer, opts.dlqTopic, opts.name, poison);
        }
        payload.resolveOffset(last.offset);
        await beat();
        stats.applied += applied;
        stats.deadLettered += poison.length;
        stats.batches += 1;
        metrics?.messages.inc({ projector: opts.name, outcome: 'applied' }, applied);
        if (poison.length)
          metrics?.messages.inc({ projector: opts.name, outcome: 'dead_lettered' }, poison.length);
        metrics?.batchSeconds.observe({ projector: opts.name }, (performance.now() - started) / 1000);
      }
      // One offset commit per fetched batch, not per chunk: a crash replays at most the batch,
      // and the handlers' revision guards make the replay change nothing.
      if (payload.isRunning() && !payload.isStale()) await payload.commitOffsetsIfNecessary();
    },
  });

  const lagByPartition = async () => (await consumerGroupLag(admin, groupId, opts.topics)).partitions;
  const lag = async () => (await consumerGroupLag(admin, groupId, opts.topics)).total;
  // One admin round per scrape gives both the total and the per-partition series.
  const untrack = metrics?.trackLag(opts.name, () => consumerGroupLag(admin, groupId, opts.topics));

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      abort.abort();
      untrack?.();
      await consumer.disconnect();
      await producer?.disconnect();
      await admin.disconnect();
      finished();
      log.info(stats, 'projector stopped');
    })());

  return { name: opts.name, groupId, ready, done, stats, lag, lagByPartition, stop };
}
