/**
 * A catalog change made with plain SQL shows in Zipkin: Debezium's record carries no trace
 * context, so the catalog projection process (run as `npm start` runs it, with the telemetry
 * preload) starts a trace per chunk it applies, `project <group>-redis` / `project <group>-search`,
 * with its Redis and search calls beneath. One private CDC pipeline for the file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCatalogPipeline,
  insertInstitution,
  type CatalogPipeline,
} from '../support/catalog-pipeline.ts';
import { testConfig } from '../support/test-config.ts';
import {
  descendants,
  isPgSpan,
  isRedisSpan,
  requireZipkin,
  spanName,
  spawnTraced,
  tracesWithSpan,
  type TracedService,
  type ZipkinSpan,
} from '../support/traced-process.ts';
import { uniqueName, waitFor } from '../support/wait.ts';

describe('a catalog change made with SQL, traced through the CDC projectors (Zipkin)', () => {
  let p: CatalogPipeline;
  let projection: TracedService;

  beforeAll(async () => {
    await requireZipkin();
    p = await createCatalogPipeline(testConfig(), { tag: 'cdctrace' });
    await p.applyConnector();
    projection = await spawnTraced(
      'projections/catalog/main.ts',
      {
        CATALOG_CONNECTOR_NAME: p.settings.name,
        CATALOG_SLOT: p.settings.slot,
        CATALOG_PUBLICATION: p.settings.publication,
        CATALOG_TOPIC_PREFIX: p.settings.topicPrefix,
        CATALOG_REDIS_PREFIX: `${p.groupPrefix}:`,
        CATALOG_SEARCH_ALIAS: p.alias,
        CATALOG_GROUP_PREFIX: p.groupPrefix,
        CATALOG_STORES: 'redis,search',
        CATALOG_PROJECTIONS_PORT: '0',
      },
      (l) => l.msg === 'catalog projection ready',
    );
  }, 240_000);

  afterAll(async () => {
    await projection?.stop();
    await p?.cleanup();
  });

  it('the institution in Redis and search, and the chunks that put it there in Zipkin', async () => {
    const id = await insertInstitution(p.db, { name: '追踪医院', city: uniqueName('追踪市') });
    await waitFor(async () => (await p.reader.get('institutions', String(id))) ?? undefined, {
      what: `institution ${id} in Redis`,
      timeoutMs: 60_000,
    });
    await waitFor(async () => (await p.search.get(p.alias, String(id))) ?? undefined, {
      what: `institution ${id} in search`,
      timeoutMs: 60_000,
    });

    const topic = `${p.settings.topicPrefix}.public.institutions`;
    for (const [store, isStoreCall] of [
      ['redis', isRedisSpan],
      ['search', (s: ZipkinSpan) => s.kind === 'CLIENT' && !isPgSpan(s) && !isRedisSpan(s)],
    ] as const) {
      const name = `project ${p.groupPrefix}-${store}`;
      // Spans reach Zipkin a batch-export interval after the chunk ends.
      const found = await waitFor(
        async () => {
          for (const spans of await tracesWithSpan('catalog-projections', name)) {
            const chunk = spans.find(
              (s) => spanName(s) === name && s.tags?.['messaging.destination.name'] === topic,
            );
            const calls = chunk ? descendants(spans, chunk).filter((s) => isStoreCall(s)) : [];
            if (chunk && calls.length) return { chunk, calls };
          }
          return undefined;
        },
        { what: `a traced ${store} chunk of ${topic} in Zipkin`, timeoutMs: 30_000, intervalMs: 500 },
      );
      expect(found.chunk.kind).toBe('CONSUMER');
      // Its own trace: a CDC record has no traceparent to continue.
      expect(found.chunk.parentId).toBeUndefined();
      expect(found.chunk.tags?.['messaging.consumer.group.name']).toBe(`${p.groupPrefix}-${store}`);
      expect(found.calls.length).toBeGreaterThan(0);
    }
  }, 120_000);
});
