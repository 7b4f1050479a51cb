import { LRUCache } from 'lru-cache';
import type { CachedResponse } from './cached-response.ts';

export type Loader = () => Promise<CachedResponse>;

export type CacheOutcome =
  /** Served from the in-process cache. */
  | 'l1-hit'
  /** Served from the in-process cache past its TTL, refreshed in the background. */
  | 'l1-stale-revalidating'
  /** Loaded from Redis (possibly sharing a concurrent load). */
  | 'l2-load'
  /** Redis failed; served the last copy we had. */
  | 'l1-stale-fallback';

export interface CacheResult {
  entry: CachedResponse;
  outcome: CacheOutcome;
}

export interface TwoLevelCacheOptions {
  /** Bytes of serialised bodies kept in process. */
  maxBytes?: number;
  /** After this, an entry is served stale while one background load refreshes it. */
  ttlMs?: number;
  /** Entries older than this are never served, even while Redis is down. */
  maxStaleMs?: number;
  /** A key's own TTL instead of `ttlMs` (undefined: `ttlMs`); GetOptions.ttlMs overrides both. */
  ttlFor?: (key: string) => number | undefined;
}

interface Context {
  load: Loader;
  opts: GetOptions;
}

export interface GetOptions {
  /** This entry's freshness instead of the cache's (search results: shorter). */
  ttlMs?: number;
  /**
   * For data that trails the Redis keys it depends on (the search index is written by its own
   * projector, after or before the Redis one): a load within this long of a change to one of its
   * keys is kept only this long, so a result read before the index caught up is soon reloaded.
   */
  settleMs?: number;
}

/** Read options shared by every read (the fast path makes one per request). */
const STALE_TOO = { allowStale: true } as const;

/**
 * Level 1 is an in-process LRU bounded by bytes and TTL; level 2 is whatever the loader reads
 * (Redis). lru-cache's fetch() does the hard parts: concurrent misses of one key share a single
 * load, and an expired entry is served while one background load refreshes it.
 * Invalidation (a dependency changed) marks entries so the next read waits for fresh data, but
 * keeps the bytes as a fallback for when Redis is unreachable.
 */
export class TwoLevelCache {
  private readonly lru: LRUCache<string, CachedResponse, Context>;
  private readonly byDependency = new Map<string, Set<string>>();
  private readonly maxStaleMs: number;
  private readonly ttlFor: ((key: string) => number | undefined) | undefined;
  /**
   * Sequence of the last change notification per Redis key (recent ones only): a load that
   * started before a change to one of its keys was read before that change, so its result is
   * stored already invalidated. Loads are bounded by Redis timeouts, far below the TTL here.
   */
  private readonly changedAt = new LRUCache<string, { seq: number; at: number }>({
    max: 200_000,
    ttl: 120_000,
  });
  private seq = 0;
  private allChangedAt = 0;
  private allChangedTime = 0;

  constructor(opts: TwoLevelCacheOptions = {}) {
    this.maxStaleMs = opts.maxStaleMs ?? 10 * 60_000;
    this.ttlFor = opts.ttlFor;
    this.lru = new LRUCache<string, CachedResponse, Context>({
      maxSize: opts.maxBytes ?? 64 * 1024 * 1024,
      sizeCalculation: (e) => e.body.length + (e.gzip?.length ?? 0) + (e.br?.length ?? 0) + 256,
      ttl: opts.ttlMs ?? 5_000,
      allowStale: true,
      noDeleteOnStaleGet: true,
      noDeleteOnFetchRejection: true,
      allowStaleOnFetchRejection: true,
      fetchMethod: async (key, _stale, { context, options }) => {
        const startedAt = this.seq;
        const entry = await context.load();
        this.index(key, entry);
        if (this.changedSince(entry.deps, startedAt)) entry.invalidated = true;
        const { settleMs } = context.opts;
        if (settleMs && this.changedWithin(entry.deps, settleMs)) options.ttl = settleMs;
        // How to refresh it once it expires, so the fast path can serve it while that runs.
        entry.refresh = context;
        return entry;
      },
      // A replacement keeps its key's dependencies (same query, same keys); only evictions and
      // deletions drop them, so a background refresh never loses its invalidation links.
      dispose: (entry, key, reason) => {
        if (reason !== 'set') this.unindex(key, entry);
      },
    });
  }

  async get(key: string, load: Loader, given: GetOptions = {}): Promise<CacheResult> {
    const keyTtl = given.ttlMs === undefined ? this.ttlFor?.(key) : undefined;
    const opts = keyTtl === undefined ? given : { ...given, ttlMs: keyTtl };
    const current = this.lru.get(key, STALE_TOO);
    if (current && !current.invalidated && this.lru.getRemainingTTL(key) > 0) {
      return { entry: current, outcome: 'l1-hit' };
    }
    const status: LRUCache.Status<string, CachedResponse, Context> = {};
    // Invalidated, or too old to serve even while refreshing: the read waits for a load.
    const mustRefresh =
      current !== undefined && (current.invalidated || Date.now() - current.createdAt > this.maxStaleMs);
    const entry = await this.lru.fetch(key, {
      context: { load, opts },
      ...(opts.ttlMs ? { ttl: opts.ttlMs } : {}),
      status,
      forceRefresh: mustRefresh,
      // Expired but still valid: serve it now, refresh behind it. Invalidated: wait for the load.
      allowStale: !mustRefresh,
    });
    // With no copy to fall back on, a failed load surfaces as its own error.
    if (!entry) throw status.fetchError ?? new Error(`cache load for ${key} returned nothing`);
    if (status.fetchRejected || status.fetchError) {
      if (Date.now() - entry.createdAt > this.maxStaleMs) throw status.fetchError ?? new Error('load failed');
      return { entry, outcome: 'l1-stale-fallback' };
    }
    // With mustRefresh the read awaited its load, whatever lru-cache's status calls the old entry.
    if (status.fetch === 'stale' && !mustRefresh) return { entry, outcome: 'l1-stale-revalidating' };
    return { entry, outcome: 'l2-load' };
  }

  /** The entry if it can be served as is (fresh, valid, existing), without any loading: the fast path. */
  peekFresh(key: string): CachedResponse | undefined {
    const entry = this.lru.get(key, { allowStale: false });
    if (!entry || entry.invalidated || entry.missing) return undefined;
    return entry;
  }

  /**
   * What the fast path may answer without waiting: a fresh entry (`l1-hit`), or one past its TTL
   * but neither invalidated nor older than maxStaleMs (`l1-stale-revalidating`), whose one
   * background refresh this starts (shared with any other read of the key), as get() would.
   */
  peekServable(key: string): CacheResult | undefined {
    const entry = this.lru.get(key, STALE_TOO);
    if (!entry || entry.invalidated || entry.missing) return undefined;
    if (this.lru.getRemainingTTL(key) > 0) return { entry, outcome: 'l1-hit' };
    const refresh = entry.refresh;
    if (!refresh || Date.now() - entry.createdAt > this.maxStaleMs) return undefined;
    this.lru
      .fetch(key, {
        context: refresh,
        allowStale: true,
        ...(refresh.opts.ttlMs ? { ttl: refresh.opts.ttlMs } : {}),
      })
      .catch(() => undefined); // the copy stays (allowStaleOnFetchRejection); the next read retries
    return { entry, outcome: 'l1-stale-revalidating' };
  }

  /**
   * The reload of an invalidated entry (started here, or joined if one runs), resolving to the
   * fresh entry, or rejecting when it cannot be served as is (the load failed, the resource is
   * gone, or another change raced it): then the caller goes the slow way. What the fast path
   * waits on instead of handing every request for a just-changed hot URL to Express.
   */
  reloading(key: string): Promise<CachedResponse> | undefined {
    const entry = this.lru.get(key, STALE_TOO);
    const refresh = entry?.refresh;
    if (!entry?.invalidated || entry.missing || !refresh) return undefined;
    if (Date.now() - entry.createdAt > this.maxStaleMs) return undefined;
    return this.lru
      .fetch(key, {
        context: refresh,
        forceRefresh: true,
        allowStale: false,
        ...(refresh.opts.ttlMs ? { ttl: refresh.opts.ttlMs } : {}),
      })
      .then((fresh) => {
        if (!fresh || fresh.invalidated || fresh.missing) throw new Error(`${key} is not servable`);
        return fresh;
      });
  }

  /** A Redis key changed: every entry built from it must be reloaded before it is served again. */
  invalidateDependency(redisKey: string): number {
    this.changedAt.set(redisKey, { seq: ++this.seq, at: Date.now() });
    const keys = this.byDependency.get(redisKey);
    if (!keys) return 0;
    let n = 0;
    for (const key of keys) {
      const entry = this.lru.get(key, STALE_TOO);
      if (entry) {
        entry.invalidated = true;
        n += 1;
      }
    }
    return n;
  }

  /** After a lost subscription nothing is known to be fresh. */
  invalidateAll(): void {
    this.allChangedAt = ++this.seq;
    this.allChangedTime = Date.now();
    for (const entry of this.lru.values()) entry.invalidated = true;
  }

  private changedSince(deps: readonly string[], seq: number): boolean {
    if (this.allChangedAt > seq) return true;
    return deps.some((dep) => (this.changedAt.get(dep)?.seq ?? 0) > seq);
  }

  private changedWithin(deps: readonly string[], ms: number): boolean {
    const since = Date.now() - ms;
    if (this.allChangedTime > since) return true;
    return deps.some((dep) => (this.changedAt.get(dep)?.at ?? 0) > since);
  }

  get size(): number {
    return this.lru.size;
  }

  /** What the entries count against maxBytes: bodies, compressed variants, a fixed overhead each. */
  get bytes(): number {
    return this.lru.calculatedSize;
  }

  private index(key: string, entry: CachedResponse): void {
    for (const dep of entry.deps) {
      let set = this.byDependency.get(dep);
      if (!set) this.byDependency.set(dep, (set = new Set()));
      set.add(key);
    }
  }

  private unindex(key: string, entry: CachedResponse): void {
    for (const dep of entry.deps) {
      const set = this.byDependency.get(dep);
      set?.delete(key);
      if (set?.size === 0) this.byDependency.delete(dep);
    }
  }
}
