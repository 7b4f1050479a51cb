/**
 * Truthful health of the projection processes: /healthz fails only when the process must be
 * restarted (a loop that stopped for good); a dependency outage makes /readyz 503 and /healthz
 * 200 "degraded"; both answer within 1 s in every case (a correctness bound, not a benchmark).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../../platform/http/metrics.ts';
import { createKafka } from '../../platform/kafka.ts';
import { startSampler } from '../../platform/sampler.ts';
import { serveWorker, type WorkerServer } from '../../platform/worker-shell.ts';
import { deathWatch, projectionsHealth } from '../../projections/health.ts';
import { startProjections, type ProjectionsHandle } from '../../projections/start.ts';
import { runProjector } from '../../projections/runtime/projector-runtime.ts';
import { startRelay } from '../../projections/relay/relay.ts';
import { catalogConnectorSettings } from '../../connectors/catalog-connector.ts';
import { loadCatalogProjectionConfig } from '../../projections/catalog/config.ts';
import { startCatalogProjections } from '../../projections/catalog/start.ts';
import { projectionsHarness, type Harness } from '../support/projections-harness.ts';
import { uniqueName, waitFor } from '../support/wait.ts';

interface Timed {
  status: number;
  body: { status: string; reasons?: string[]; [k: string]: unknown };
  ms: number;
}

async function get(url: string): Promise<Timed> {
  const t0 = Date.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  const body = (await res.json()) as Timed['body'];
  return { status: res.status, body, ms: Date.now() - t0 };
}

let h: Harness;
beforeAll(async () => {
  h = await projectionsHarness();
});
afterAll(async () => {
  await h?.close();
});

/** A worker whose only liveness input is `watch` (Kafka reported up), as the projections process serves it. */
async function watchedWorker(watch: ReturnType<typeof deathWatch>) {
  const broker = startSampler({ name: 'kafka', read: () => Promise.resolve(1), intervalMs: 60_000 });
  await broker.sampleNow();
  const worker = await serveWorker({
    registry: createRegistry(),
    port: 0,
    host: '127.0.0.1',
    health: projectionsHealth(
      {
        hasRelay: false,
        relay: () => undefined,
        kafka: broker,
        dependencies: {},
        lag: () => [],
        lagBudgetEvents: 1000,
        isStarted: () => true,
        isStopping: () => false,
      },
      watch,
    ),
  });
  return { broker, worker };
}

describe('projections health', () => {
  it('everything up: /healthz 200 ok, /readyz 200 ready, lag sampled in the background', async () => {
    const p = await startProjections(
      { platform: h.config, projections: h.pc },
      {
        logger: h.logger,
        pool: h.pool,
        kafka: h.kafka,
        redis: h.redis,
        engine: h.engine,
        port: 0,
        host: '127.0.0.1',
        probe: { intervalMs: 300, timeoutMs: 1_000 },
      },
    );
    try {
      await p.ready;
      const ready = await waitFor(
        async () => {
          const r = await get(`${p.adminUrl}/readyz`);
          return r.status === 200 && (r.body.lag as Record<string, { value: unknown }>).redis?.value !== null
            ? r
            : undefined;
        },
        { what: 'projections ready with a lag sample', timeoutMs: 30_000 },
      );
      expect(ready.body).toMatchObject({
        status: 'ready',
        checks: { kafka: 'ok', postgres: 'ok', redis: 'ok', search: 'ok' },
      });
      expect(ready.body.lag).toMatchObject({
        relay: { value: expect.any(Number), ageMs: expect.any(Number) },
      });
      const live = await get(`${p.url}/healthz`);
      expect(live.status).toBe(200);
      // The public port shows status and reasons only; the checks and lag are on the admin port.
      expect(live.body).toEqual({ status: 'ok' });
      expect(live.ms).toBeLessThan(1000);
      expect((await get(`${p.url}/readyz`)).body).toEqual({ status: 'ready' });
      expect((await fetch(`${p.url}/metrics`)).status).toBe(404);
      const metrics = await fetch(`${p.adminUrl}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toMatch(/# HELP/);
    } finally {
      await p.stop();
    }
  }, 90_000);

  it('Kafka unreachable: /readyz 503 and /healthz 200 degraded, each within 1 s; no restart asked', async () => {
    const deadKafka = createKafka({ KAFKA_BROKERS: ['127.0.0.1:1'], KAFKA_CLIENT_ID: uniqueName('dead') });
    let p: ProjectionsHandle | undefined;
    try {
      p = await startProjections(
        {
          platform: h.config,
          projections: {
            ...h.pc,
            PROJECTIONS_COMPONENTS: ['relay', 'redis'],
            RELAY_NAME: uniqueName('dead-relay'),
          },
        },
        {
          logger: h.logger,
          pool: h.pool,
          kafka: deadKafka,
          redis: h.redis,
          port: 0,
          host: '127.0.0.1',
          probe: { intervalMs: 300, timeoutMs: 500 },
        },
      );
      const url = p.url;
      await waitFor(
        async () =>
          (await get(`${url}/readyz`)).body.reasons?.some((r) => /^kafka: (?!no sample yet)/.test(r))
            ? true
            : undefined,
        { what: 'the Kafka probe to report the outage', timeoutMs: 10_000 },
      );
      for (let i = 0; i < 3; i++) {
        const ready = await get(`${url}/readyz`);
        console.log(
          `[health] Kafka down: /readyz ${ready.status} in ${ready.ms} ms: ${JSON.stringify(ready.body.reasons)}`,
        );
        expect(ready.status).toBe(503);
        expect(ready.body.reasons).toEqual(
          expect.arrayContaining([expect.stringMatching(/^kafka: /), 'starting']),
        );
        expect(ready.ms).toBeLessThan(1000);
        const live = await get(`${url}/healthz`);
        console.log(`[health] Kafka down: /healthz ${live.status} in ${live.ms} ms`);
        expect(live.status).toBe(200);
        expect(live.body.status).toBe('degraded');
        expect(live.body.reasons).toEqual(expect.arrayContaining([expect.stringMatching(/^kafka: /)]));
        expect(live.ms).toBeLessThan(1000);
      }
    } finally {
      const t0 = Date.now();
      await p?.stop();
      expect(Date.now() - t0).toBeLessThan(10_000);
    }
  }, 60_000);
});

describe('relay with Kafka down at start', () => {
  it('keeps retrying (alive, batches failing) instead of crashing for good', async () => {
    const relay = startRelay({
      name: uniqueName('dead-kafka-relay'),
      store: h.store,
      pool: h.pool,
      databaseUrl: h.config.DATABASE_URL,
      kafka: createKafka({ KAFKA_BROKERS: ['127.0.0.1:1'], KAFKA_CLIENT_ID: uniqueName('dead') }),
      topic: h.pc.EVENTS_TOPIC,
      logger: h.logger,
    });
    try {
      const status = await waitFor(
        () => (relay.status().consecutiveErrors > 0 ? relay.status() : undefined),
        {
          what: 'a failed relay attempt',
          timeoutMs: 45_000,
        },
      );
      expect(status.alive).toBe(true);
      expect(status.lastError).toBeDefined();
    } finally {
      await relay.stop();
    }
    await expect(relay.done).resolves.toBeUndefined();
  }, 60_000);
});

describe('catalog projections health', () => {
  it('Kafka unreachable: /readyz 503 and /healthz 200 degraded, each within 1 s', async () => {
    const alias = uniqueName('test-institutions').toLowerCase();
    const p = await startCatalogProjections(
      {
        platform: h.config,
        catalog: loadCatalogProjectionConfig({
          CATALOG_SEARCH_ALIAS: alias,
          CATALOG_REDIS_PREFIX: `${uniqueName('test-catalog')}:`,
          CATALOG_GROUP_PREFIX: uniqueName('test-catalog'),
        }),
        connector: { ...catalogConnectorSettings(h.config, {}), topicPrefix: uniqueName('test-cdc') },
      },
      {
        logger: h.logger,
        kafka: createKafka({ KAFKA_BROKERS: ['127.0.0.1:1'], KAFKA_CLIENT_ID: uniqueName('dead') }),
        redis: h.redis,
        search: h.engine,
        port: 0,
        probe: { intervalMs: 300, timeoutMs: 500 },
      },
    );
    try {
      const url = p.url ?? '';
      await waitFor(
        async () =>
          (await get(`${url}/readyz`)).body.reasons?.some((r) => /^kafka: (?!no sample yet)/.test(r))
            ? true
            : undefined,
        { what: 'the Kafka probe to report the outage', timeoutMs: 10_000 },
      );
      const ready = await get(`${url}/readyz`);
      expect(ready.status).toBe(503);
      expect(ready.ms).toBeLessThan(1000);
      const live = await get(`${url}/healthz`);
      expect(live.status).toBe(200);
      expect(live.body.status).toBe('degraded');
      expect(live.ms).toBeLessThan(1000);
    } finally {
      await p.stop();
      for (const index of await h.engine.aliasTargets(alias)) await h.engine.deleteIndex(index);
    }
  }, 60_000);
});

describe('liveness of the loops', () => {
  let server: WorkerServer | undefined;
  afterAll(async () => {
    await server?.close();
  });

  it('a real projector that kafkajs gave up on: its handle rejects done, /healthz 503 names it', async () => {
    const groupId = uniqueName('test-doomed');
    // No dead-letter topic, no restart: the first poison message stops this consumer for good.
    const doomed = await runProjector({
      kafka: h.kafka,
      name: 'doomed',
      groupId,
      topics: [h.pc.EVENTS_TOPIC],
      handleBatch: () => Promise.reject(new Error('cannot apply')),
      logger: h.logger,
      retry: { maxRetries: 0, initialDelayMs: 1, maxDelayMs: 1, isTransient: () => false },
      consumerConfig: { retry: { retries: 0, restartOnFailure: () => Promise.resolve(false) } },
    });
    const watch = deathWatch();
    watch.watch(doomed);
    const { broker, worker } = await watchedWorker(watch);
    try {
      await doomed.ready;
      expect((await get(`${worker.url}/healthz`)).status).toBe(200);
      const producer = h.kafka.producer();
      await producer.connect();
      await producer.send({ topic: h.pc.EVENTS_TOPIC, messages: [{ key: 'k', value: 'not an event' }] });
      await producer.disconnect();
      await expect(doomed.done).rejects.toThrow();
      const live = await get(`${worker.url}/healthz`);
      expect(live.status).toBe(503);
      expect(live.body.reasons).toEqual([
        expect.stringMatching(/^projector:doomed: stopped for good: .*poison message.*no dead-letter topic/),
      ]);
      expect(live.ms).toBeLessThan(1000);
    } finally {
      broker.stop();
      await worker.close();
      await doomed.stop();
    }
  }, 60_000);

  it('a projector whose loop died: /healthz 503 within 1 s, naming it', async () => {
    const watch = deathWatch();
    let kill!: (err: Error) => void;
    const done = new Promise<void>((_, reject) => (kill = reject));
    watch.watch({ name: 'redis', done });
    const watched = await watchedWorker(watch);
    const broker = watched.broker;
    server = watched.worker;
    expect((await get(`${server.url}/healthz`)).status).toBe(200);
    kill(new Error('The group coordinator is not available (restart: false)'));
    await new Promise((r) => setTimeout(r, 10));
    const live = await get(`${server.url}/healthz`);
    broker.stop();
    expect(live.status).toBe(503);
    expect(live.body).toMatchObject({
      status: 'failing',
      reasons: [
        expect.stringMatching(/^projector:redis: stopped for good: .*group coordinator is not available/),
      ],
    });
    expect(live.ms).toBeLessThan(1000);
    expect((await get(`${server.url}/readyz`)).status).toBe(503);
  });
});
