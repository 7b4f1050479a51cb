import { describe, expect, it } from 'vitest';
import { makeCachedResponse } from '../../query-api/cache/cached-response.ts';
import { TwoLevelCache } from '../../query-api/cache/two-level-cache.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function loader() {
  const state = { loads: 0, version: 0 };
  const load = async () => {
    state.loads += 1;
    const { version } = state;
    await sleep(20);
    return makeCachedResponse({ version }, ['rm:k']);
  };
  return { state, load };
}
const versionOf = (body: Buffer) => (JSON.parse(body.toString()) as { version: number }).version;

describe('what the fast path may serve (peekServable)', () => {
  it('serves a fresh entry as a hit and loads nothing', async () => {
    const cache = new TwoLevelCache({ ttlMs: 10_000 });
    const l = loader();
    await cache.get('k', l.load);
    expect(cache.peekServable('k')?.outcome).toBe('l1-hit');
    expect(l.state.loads).toBe(1);
  });

  it('serves an expired entry at once and refreshes it behind, once for many reads', async () => {
    const cache = new TwoLevelCache({ ttlMs: 30 });
    const l = loader();
    await cache.get('k', l.load);
    await sleep(50);
    l.state.version = 1;
    const reads = Array.from({ length: 20 }, () => cache.peekServable('k'));
    expect(reads.every((r) => r?.outcome === 'l1-stale-revalidating')).toBe(true);
    expect(reads.every((r) => versionOf(r!.entry.body) === 0)).toBe(true);
    await sleep(40);
    expect(l.state.loads).toBe(2);
    const after = cache.peekServable('k');
    expect(after?.outcome).toBe('l1-hit');
    expect(versionOf(after!.entry.body)).toBe(1);
  });

  it('never serves an invalidated entry, nor one older than maxStaleMs', async () => {
    const cache = new TwoLevelCache({ ttlMs: 10, maxStaleMs: 1000 });
    const l = loader();
    await cache.get('k', l.load);
    cache.invalidateDependency('rm:k');
    expect(cache.peekServable('k')).toBeUndefined();

    const old = new TwoLevelCache({ ttlMs: 10, maxStaleMs: 1000 });
    await old.get('k', l.load);
    const entry = old.peekServable('k')!.entry;
    entry.createdAt -= 2000;
    await sleep(20);
    expect(old.peekServable('k')).toBeUndefined();
  });

  it('gives each key the TTL ttlFor says (the homepage short, keyed pages long)', async () => {
    const cache = new TwoLevelCache({
      ttlMs: 30,
      ttlFor: (key) => (key.startsWith('homepage:') ? undefined : 10_000),
    });
    const l = loader();
    await cache.get('homepage:x', l.load);
    await cache.get('institution:1', l.load);
    await sleep(50);
    expect(cache.peekFresh('homepage:x')).toBeUndefined();
    expect(cache.peekFresh('institution:1')).toBeDefined();
  });

  it('lets many reads of an invalidated entry wait on one reload of fresh data', async () => {
    const cache = new TwoLevelCache({ ttlMs: 10_000 });
    const l = loader();
    await cache.get('k', l.load);
    expect(cache.reloading('k')).toBeUndefined(); // valid: nothing to wait for
    l.state.version = 1;
    cache.invalidateDependency('rm:k');
    const waits = Array.from({ length: 10 }, () => cache.reloading('k')!);
    const fresh = await Promise.all(waits);
    expect(l.state.loads).toBe(2);
    expect(fresh.every((e) => versionOf(e.body) === 1)).toBe(true);
    expect(cache.peekServable('k')?.outcome).toBe('l1-hit');
  });

  it('rejects the wait when a change races the reload (the slow way then decides)', async () => {
    const cache = new TwoLevelCache({ ttlMs: 10_000 });
    const l = loader();
    await cache.get('k', l.load);
    cache.invalidateDependency('rm:k');
    const wait = cache.reloading('k')!;
    cache.invalidateDependency('rm:k'); // lands while the reload is in flight
    await expect(wait).rejects.toThrow('not servable');
  });
});
