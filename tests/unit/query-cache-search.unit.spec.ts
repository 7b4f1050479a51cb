import { describe, expect, it } from 'vitest';
import { makeCachedResponse } from '../../query-api/cache/cached-response.ts';
import { TwoLevelCache } from '../../query-api/cache/two-level-cache.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A search engine stand-in: counts calls, answers after a delay with the current version. */
function engine(deps: string[]) {
  const state = { calls: 0, version: 0 };
  const load = async () => {
    state.calls += 1;
    const { version } = state;
    await sleep(20);
    return makeCachedResponse({ version }, deps);
  };
  return { state, load };
}
const versionOf = (body: Buffer) => (JSON.parse(body.toString()) as { version: number }).version;

describe('search results in the two-level cache', () => {
  it('coalesces concurrent identical searches into one engine call', async () => {
    const cache = new TwoLevelCache();
    const e = engine(['catalog:institutions:1']);
    const results = await Promise.all(
      Array.from({ length: 25 }, () => cache.get('search:["心",null,20,null]', e.load, { ttlMs: 1000 })),
    );
    expect(e.state.calls).toBe(1);
    expect(results.filter((r) => r.outcome === 'l2-load')).toHaveLength(25);
    expect(new Set(results.map((r) => r.entry))).toHaveProperty('size', 1);
  });

  it('keeps a result for its own TTL, shorter than the pages', async () => {
    const cache = new TwoLevelCache({ ttlMs: 60_000 });
    const e = engine(['catalog:institutions:1']);
    await cache.get('s', e.load, { ttlMs: 50 });
    expect(cache.peekFresh('s')).toBeDefined();
    await sleep(80);
    expect(cache.peekFresh('s')).toBeUndefined();
  });

  it('is invalidated by a change to an institution in it, and reloaded on the next read', async () => {
    const cache = new TwoLevelCache();
    const e = engine(['catalog:institutions:1', 'catalog:institutions:2']);
    await cache.get('s', e.load, { ttlMs: 60_000 });
    expect(cache.invalidateDependency('catalog:institutions:3')).toBe(0);
    expect(cache.peekFresh('s')).toBeDefined();
    e.state.version = 1;
    expect(cache.invalidateDependency('catalog:institutions:2')).toBe(1);
    expect(cache.peekFresh('s')).toBeUndefined();
    const again = await cache.get('s', e.load, { ttlMs: 60_000 });
    expect(again.outcome).toBe('l2-load');
    expect(versionOf(again.entry.body)).toBe(1);
  });

  it('keeps a result loaded just after such a change only for the settle time (the index may lag)', async () => {
    const cache = new TwoLevelCache();
    const e = engine(['catalog:institutions:1']);
    await cache.get('s', e.load, { ttlMs: 60_000, settleMs: 60 });
    cache.invalidateDependency('catalog:institutions:1');
    await cache.get('s', e.load, { ttlMs: 60_000, settleMs: 60 });
    expect(cache.peekFresh('s')).toBeDefined();
    await sleep(90);
    expect(cache.peekFresh('s')).toBeUndefined();
    // Long after the change, a reload keeps its full TTL again.
    await cache.get('s', e.load, { ttlMs: 60_000, settleMs: 60 });
    await sleep(90);
    expect(cache.peekFresh('s')).toBeDefined();
  });

  it('counts its bytes against the budget', async () => {
    const cache = new TwoLevelCache();
    const e = engine(['d']);
    expect(cache.bytes).toBe(0);
    const r = await cache.get('s', e.load);
    expect(cache.bytes).toBe(r.entry.body.length + 256);
  });
});
