import { describe, expect, it } from 'vitest';
import {
  encodedBody,
  etagFor,
  etagMatches,
  makeCachedResponse,
  pickEncoding,
} from '../../query-api/cache/cached-response.ts';
import { TwoLevelCache } from '../../query-api/cache/two-level-cache.ts';
import { gunzipSync } from 'node:zlib';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A level-2 stand-in that counts loads and can be made slow or failing. */
function counterLoader(deps = ['rm:k']) {
  const state = { loads: 0, fail: false, delayMs: 20, version: 0 };
  const load = async () => {
    state.loads += 1;
    const { version, fail } = state; // what Redis holds when the read is sent
    await sleep(state.delayMs);
    if (fail) throw new Error('redis down');
    return makeCachedResponse({ version }, deps);
  };
  return { state, load };
}

const versionOf = (body: Buffer) => (JSON.parse(body.toString()) as { version: number }).version;

describe('TwoLevelCache', () => {
  it('coalesces concurrent misses of one key into one load', async () => {
    const cache = new TwoLevelCache();
    const { state, load } = counterLoader();
    const results = await Promise.all(Array.from({ length: 100 }, () => cache.get('home', load)));
    expect(state.loads).toBe(1);
    expect(new Set(results.map((r) => r.entry))).toHaveProperty('size', 1);
    expect((await cache.get('home', load)).outcome).toBe('l1-hit');
  });

  it('serves an expired entry while one background load refreshes it', async () => {
    // Margins of ~100 ms on each side (the 20 ms load must finish within the 100 ms wait, and its
    // copy must still be fresh 80 ms later): with a 30 ms TTL, a loaded CI host stalling this
    // process between the refresh and the last read expired the fresh copy too (a third load).
    const cache = new TwoLevelCache({ ttlMs: 200 });
    const { state, load } = counterLoader();
    await cache.get('home', load);
    await sleep(250);
    state.version = 1;
    const stale = await cache.get('home', load);
    expect(stale.outcome).toBe('l1-stale-revalidating');
    expect(versionOf(stale.entry.body)).toBe(0);
    await sleep(100);
    const fresh = await cache.get('home', load);
    expect(versionOf(fresh.entry.body)).toBe(1);
    expect(state.loads).toBe(2);
  });

  it('after a dependency changes, the next read waits for fresh data', async () => {
    const cache = new TwoLevelCache({ ttlMs: 60_000 });
    const { state, load } = counterLoader(['rm:schedule:1']);
    await cache.get('s1', load);
    state.version = 7;
    expect(cache.invalidateDependency('rm:unrelated')).toBe(0);
    expect(cache.invalidateDependency('rm:schedule:1')).toBe(1);
    const next = await cache.get('s1', load);
    expect(next.outcome).toBe('l2-load');
    expect(versionOf(next.entry.body)).toBe(7);
    // the refreshed entry is still linked to its dependency
    expect(cache.invalidateDependency('rm:schedule:1')).toBe(1);
  });

  it('marks the result of a load invalidated when a change lands while it is in flight', async () => {
    const cache = new TwoLevelCache({ ttlMs: 60_000 });
    const { state, load } = counterLoader(['rm:k']);
    state.delayMs = 50;
    const inFlight = cache.get('home', load); // reads Redis "before" the write below
    await sleep(10);
    state.version = 2;
    cache.invalidateDependency('rm:k'); // the entry is not linked yet: only the sequence knows
    expect(versionOf((await inFlight).entry.body)).toBe(0);
    const next = await cache.get('home', load);
    expect(next.outcome).toBe('l2-load');
    expect(versionOf(next.entry.body)).toBe(2);
    expect(cache.peekFresh('home')).toBe(next.entry);
  });

  it('never serves a copy older than maxStaleMs, even while refreshing or with Redis down', async () => {
    const cache = new TwoLevelCache({ ttlMs: 10, maxStaleMs: 60 });
    const { state, load } = counterLoader();
    await cache.get('home', load);
    await sleep(80);
    state.fail = true;
    await expect(cache.get('home', load)).rejects.toThrow('redis down');
    state.fail = false;
    state.version = 3;
    const fresh = await cache.get('home', load);
    expect(fresh.outcome).toBe('l2-load');
    expect(versionOf(fresh.entry.body)).toBe(3);
  });

  it('falls back to the last copy when the load fails, and fails when it never had one', async () => {
    const cache = new TwoLevelCache({ ttlMs: 60_000 });
    const { state, load } = counterLoader();
    await cache.get('home', load);
    cache.invalidateAll();
    state.fail = true;
    const fallback = await cache.get('home', load);
    expect(fallback.outcome).toBe('l1-stale-fallback');
    await expect(cache.get('other', load)).rejects.toThrow('redis down');
  });
});

describe('cached responses', () => {
  it('have a strong ETag that changes with the bytes', () => {
    const a = makeCachedResponse({ a: 1 }, []);
    const b = makeCachedResponse({ a: 2 }, []);
    expect(a.etag).toMatch(/^"[\w-]+"$/);
    expect(a.etag).not.toBe(b.etag);
    expect(etagMatches(`W/"x", ${a.etag}`, a.etag)).toBe(true);
    expect(etagMatches(b.etag, a.etag)).toBe(false);
    expect(etagMatches('*', a.etag)).toBe(true);
    expect(etagMatches(undefined, a.etag)).toBe(false);
    // weak comparison: a W/ tag from a cache still revalidates
    expect(etagMatches(`W/${a.etag}`, a.etag)).toBe(true);
    // every content coding has its own strong validator
    const variants = new Set((['identity', 'gzip', 'br'] as const).map((e) => etagFor(a, e)));
    expect(variants.size).toBe(3);
    expect(etagFor(a, 'identity')).toBe(a.etag);
  });

  it('negotiate compression and compress once', () => {
    expect(pickEncoding('gzip, deflate, br', 5000)).toBe('br');
    expect(pickEncoding('gzip;q=1, br;q=0', 5000)).toBe('gzip');
    expect(pickEncoding('gzip', 10)).toBe('identity');
    expect(pickEncoding(undefined, 5000)).toBe('identity');
    expect(pickEncoding('identity', 5000)).toBe('identity');
    const entry = makeCachedResponse({ text: '医院'.repeat(1000) }, []);
    const gz = encodedBody(entry, 'gzip');
    expect(gz.length).toBeLessThan(entry.body.length);
    expect(gunzipSync(gz).equals(entry.body)).toBe(true);
    expect(encodedBody(entry, 'gzip')).toBe(gz);
  });
});
