import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Anything whose lag can be read as a number: a projector, the relay. */
export type LagSource = () => Promise<number>;

export interface ProjectionMetrics {
  messages: Counter<'projector' | 'outcome'>;
  batchSeconds: Histogram<'projector'>;
  /** Registers a lag source; the gauge asks it on every scrape. Returns an unregister function. */
  trackLag(projector: string, source: LagSource): () => void;
}

const byRegistry = new WeakMap<Registry, ProjectionMetrics>();

/** A scrape never waits on a hung broker longer than this (kafkajs retries for seconds). */
const LAG_SCRAPE_TIMEOUT_MS = 1_000;

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

/** One set of projection metrics per registry, shared by every projector (and the relay) in the process. */
export function projectionMetrics(registry: Registry): ProjectionMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const sources = new Map<string, LagSource>();
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
      return () => sources.delete(projector);
    },
  };
  new Gauge({
    name: 'projection_lag_events',
    help: 'Events not yet applied: Kafka high watermark − committed offset summed over partitions (projectors); events visible in the event store after the checkpoint (relay)',
    labelNames: ['projector'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      await Promise.all(
        [...sources].map(async ([projector, source]) => {
          try {
            this.set({ projector }, await withDeadline(source(), LAG_SCRAPE_TIMEOUT_MS));
          } catch {
            // An unreachable (or unanswering) broker/database leaves the series out of this scrape.
          }
        }),
      );
    },
  });
  byRegistry.set(registry, metrics);
  return metrics;
}
