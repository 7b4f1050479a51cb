import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { PartitionLag } from './lag.ts';

/** A projector's lag with its partitions (consumerGroupLag's answer). */
export interface LagReading {
  total: number;
  partitions: readonly Pick<PartitionLag, 'topic' | 'partition' | 'lag'>[];
}

/**
 * Anything whose lag can be read: the relay (a number), a projector (a number, or its
 * consumer-group lag per partition, which also fills projection_partition_lag_events).
 */
export type LagSource = () => Promise<number | LagReading>;

export interface ProjectionMetrics {
  messages: Counter<'projector' | 'outcome'>;
  batchSeconds: Histogram<'projector'>;
  /** Registers a lag source; the gauge asks it on every scrape. Returns an unregister function. */
  trackLag(projector: string, source: LagSource): () => void;
}

const byRegistry = new WeakMap<Registry, ProjectionMetrics>();

/** A scrape never waits on a hung broker longer than this (kafkajs retries for seconds). */
const LAG_SCRAPE_TIMEOUT_MS = 1_000;
/**
 * Both lag gauges of one scrape share one reading per source (prom-client collects each gauge
 * separately): a reading started less than this ago, or still in flight, is reused, so a scrape
 * asks the Kafka admin once per projector, not once per gauge.
 */
const LAG_READING_REUSE_MS = 1_000;

async function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Reads every source (within the scrape deadline), reusing the last round if it started less than
 * LAG_READING_REUSE_MS ago; a source that failed or timed out is absent from the answer.
 */
function sharedReadings(sources: Map<string, LagSource>): {
  read(): Promise<Map<string, LagReading>>;
  forget(): void;
} {
  let last: { at: number; readings: Promise<Map<string, LagReading>> } | undefined;
  const readAll = async () => {
    const out = new Map<string, LagReading>();
    await Promise.all(
      [...sources].map(async ([name, source]) => {
        try {
          const value = await withDeadline(source(), LAG_SCRAPE_TIMEOUT_MS);
          out.set(name, typeof value === 'number' ? { total: value, partitions: [] } : value);
        } catch {
          // left out of this scrape
        }
      }),
    );
    return out;
  };
  return {
    read() {
      if (!last || Date.now() - last.at >= LAG_READING_REUSE_MS)
        last = { at: Date.now(), readings: readAll() };
      return last.readings;
    },
    forget() {
      last = undefined;
    },
  };
}

/** One set of projection metrics per registry, shared by every projector (and the relay) in the process. */
export function projectionMetrics(registry: Registry): ProjectionMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const sources = new Map<string, LagSource>();
  const readings = sharedReadings(sources);
  const metrics: ProjectionMetrics = {
    messages: new Counter({
      name: 'projector_messages_total',
      help: 'Messages a projector finished, by outcome (applied or dead_lettered)',
      labelNames: ['projector', 'outcome'] as const,
      registers: [registry],
    }),
    batchSeconds: new Histogram({
      name: 'projector_batch_seconds',
      help: 'Time to apply one batch, writes included',
      labelNames: ['projector'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    trackLag(projector, source) {
      sources.set(projector, source);
      readings.forget();
      return () => {
        sources.delete(projector);
        readings.forget(); // a stopped projector's series leave the very next scrape
      };
    },
  };
  new Gauge({
    name: 'projection_lag_events',
    help: 'Events not yet applied: Kafka high watermark − committed offset summed over partitions (projectors); events visible in the event store after the checkpoint (relay)',
    labelNames: ['projector'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      // An unreachable (or unanswering) broker/database leaves the series out of this scrape.
      for (const [projector, reading] of await readings.read()) this.set({ projector }, reading.total);
    },
  });
  new Gauge({
    name: 'projection_partition_lag_events',
    help: "Events a projector's consumer group has not yet applied and committed, per topic partition: high watermark − committed offset (from the low watermark before the first commit)",
    labelNames: ['projector', 'topic', 'partition'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const [projector, reading] of await readings.read()) {
        for (const p of reading.partitions)
          this.set({ projector, topic: p.topic, partition: String(p.partition) }, p.lag);
      }
    },
  });
  byRegistry.set(registry, metrics);
  return metrics;
}
