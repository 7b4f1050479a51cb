/**
 * The producer of `booking.requests` (docs/adr/0015): kafkajs's idempotent producer (acks=all,
 * one request in flight, so the broker's sequence numbers keep each partition's order and drop a
 * retried duplicate). Requests are gathered while a send is in flight and go out in the next one
 * — a spike becomes a few large produce requests instead of one round trip each.
 *
 * Each record's partition is computed here with the default partitioner (murmur2 of the schedule
 * id), so its offset is known from the partition's base offset: that is the request's place in
 * its schedule's queue. A send not acknowledged within `timeoutMs` fails its requests (the route
 * answers 503 with Retry-After); Kafka down must not hang a booking.
 */
import type { Kafka, Producer } from 'kafkajs';
import { defaultPartitioner } from '../platform/kafka.ts';
import type { Logger } from '../platform/logger.ts';

export interface Queued {
  partition: number;
  offset: string;
}

interface Waiting {
  key: string;
  value: string;
  partition: number;
  resolve: (q: Queued) => void;
  reject: (err: unknown) => void;
}

export class KafkaUnavailableError extends Error {
  constructor(cause: unknown) {
    super(
      `Kafka did not acknowledge the booking request: ${cause instanceof Error ? cause.message : String(cause)}`,
      {
        cause,
      },
    );
    this.name = 'KafkaUnavailableError';
  }
}

export interface RushQueueOptions {
  kafka: Kafka;
  topic: string;
  timeoutMs: number;
  logger?: Logger;
}

export class RushQueue {
  readonly #opts: RushQueueOptions;
  readonly #partitioner = defaultPartitioner();
  #producer: Producer | undefined;
  #connecting: Promise<{ producer: Producer; partitions: number }> | undefined;
  #waiting: Waiting[] = [];
  #sending = false;
  #closed = false;

  constructor(opts: RushQueueOptions) {
    this.#opts = opts;
  }

  /** Produces one request keyed by `key`; resolves with where it landed once all replicas have it. */
  async enqueue(key: string, value: string): Promise<Queued> {
    const { partitions } = await this.#withTimeout(this.#connect());
    const partition = this.#partitioner({
      topic: this.#opts.topic,
      partitionMetadata: Array.from({ length: partitions }, (_, partitionId) => ({
        partitionId,
        leader: 0,
        partitionErrorCode: 0,
        replicas: [],
        isr: [],
      })),
      message: { key, value },
    });
    return new Promise<Queued>((resolve, reject) => {
      this.#waiting.push({ key, value, partition, resolve, reject });
      if (!this.#sending) setImmediate(() => void this.#flush());
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const producer = this.#producer;
    this.#producer = undefined;
    this.#connecting = undefined;
    await producer?.disconnect().catch(() => undefined);
  }

  #withTimeout<T>(work: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${this.#opts.timeoutMs} ms`)),
        this.#opts.timeoutMs,
      );
    });
    return Promise.race([work, timeout])
      .catch((err: unknown) => {
        throw new KafkaUnavailableError(err);
      })
      .finally(() => clearTimeout(timer));
  }

  #connect(): Promise<{ producer: Producer; partitions: number }> {
    if (this.#closed) return Promise.reject(new Error('closed'));
    this.#connecting ??= (async () => {
      const producer = this.#opts.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: defaultPartitioner,
        // Bounded, unlike the idempotent default (forever): a booking waits seconds at most.
        retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 500 },
      });
      await producer.connect();
      const admin = this.#opts.kafka.admin();
      await admin.connect();
      try {
        const meta = await admin.fetchTopicMetadata({ topics: [this.#opts.topic] });
        const partitions = meta.topics[0]?.partitions.length ?? 0;
        if (partitions === 0) throw new Error(`topic ${this.#opts.topic} has no partitions`);
        this.#producer = producer;
        return { producer, partitions };
      } finally {
        await admin.disconnect();
      }
    })();
    // A failed connection is tried afresh by the next request.
    this.#connecting.catch(() => (this.#connecting = undefined));
    return this.#connecting;
  }

  async #flush(): Promise<void> {
    if (this.#sending || this.#waiting.length === 0) return;
    this.#sending = true;
    const batch = this.#waiting;
    this.#waiting = [];
    try {
      const { producer } = await this.#connect();
      const metadata = await this.#withTimeout(
        producer.send({
          topic: this.#opts.topic,
          acks: -1,
          messages: batch.map((w) => ({ key: w.key, value: w.value, partition: w.partition })),
        }),
      );
      const base = new Map(metadata.map((m) => [m.partition, BigInt(m.baseOffset ?? '0')]));
      const next = new Map<number, bigint>();
      for (const w of batch) {
        const n = next.get(w.partition) ?? 0n;
        next.set(w.partition, n + 1n);
        w.resolve({ partition: w.partition, offset: String((base.get(w.partition) ?? 0n) + n) });
      }
    } catch (err) {
      this.#opts.logger?.warn(
        { err: err instanceof Error ? err.message : String(err), requests: batch.length },
        'booking requests not produced',
      );
      // The producer may be wedged (a broker that went away): the next request connects anew.
      if (!(err instanceof KafkaUnavailableError && this.#producer)) this.#connecting = undefined;
      const failed = err instanceof KafkaUnavailableError ? err : new KafkaUnavailableError(err);
      for (const w of batch) w.reject(failed);
    } finally {
      this.#sending = false;
      if (this.#waiting.length > 0) setImmediate(() => void this.#flush());
    }
  }
}
