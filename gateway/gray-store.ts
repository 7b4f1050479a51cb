/**
 * The gray-release shares as live data (docs/adr/0021), the way flow rules are
 * (platform/flow/rule-store.ts): one Redis hash per environment (`GRAY_RELEASE_KEY`, default
 * `gray:release`), one field per service holding the canary's share in percent, plus `updatedAt`
 * and `updatedBy`. No field: 0 % (everyone on the stable build). Every gateway polls the hash
 * once a second, so a change reaches all of them within about a second, without a restart; while
 * Redis does not answer, the shares last read stay.
 */
import type { RedisClient } from '../platform/redis.ts';
import type { Logger } from '../platform/logger.ts';

export type Shares = Readonly<Record<string, number>>;

const META = new Set(['updatedAt', 'updatedBy']);

/** Pure: a share in percent from text, or why it is not one. */
export function parseShare(text: string): number | string {
  const value = Number(text.trim().replace(/%$/, ''));
  if (text.trim() === '' || !Number.isFinite(value) || value < 0 || value > 100) {
    return `expected a share in percent from 0 to 100, got ${JSON.stringify(text)}`;
  }
  return value;
}

export class GrayStore {
  constructor(
    private readonly redis: RedisClient,
    readonly key: string,
  ) {}

  /** False until the client is connected (start-up, an outage): nothing to read or warn about yet. */
  connected(): boolean {
    return this.redis.status === 'ready';
  }

  async read(): Promise<{ shares: Shares; updatedAt?: string; updatedBy?: string }> {
    const h = await this.redis.hgetall(this.key);
    const shares: Record<string, number> = {};
    for (const [field, raw] of Object.entries(h)) {
      const share = META.has(field) ? undefined : parseShare(raw);
      if (typeof share === 'number') shares[field] = share;
    }
    return {
      shares,
      ...(h.updatedAt ? { updatedAt: h.updatedAt } : {}),
      ...(h.updatedBy ? { updatedBy: h.updatedBy } : {}),
    };
  }

  async set(service: string, share: number, by: string, now = new Date()): Promise<void> {
    await this.redis.hset(this.key, service, String(share), 'updatedAt', now.toISOString(), 'updatedBy', by);
  }

  async clear(service: string): Promise<void> {
    await this.redis.hdel(this.key, service);
  }
}

export interface GrayWatch {
  /** The canary share of a service in percent (0 when none is set). */
  share(service: string): number;
  shares(): Shares;
  /** Reads at once (tests; after a local change). */
  refresh(): Promise<void>;
  stop(): void;
}

/** Polls the store every `intervalMs` (default 1 s); `initial` until the first read answers. */
export function watchGray(
  store: GrayStore,
  opts: { intervalMs?: number; logger?: Logger; initial?: Shares } = {},
): GrayWatch {
  let current: Shares = opts.initial ?? {};
  let lastError = '';
  let running: Promise<void> | undefined;
  const apply = async () => {
    if (!store.connected()) return;
    try {
      const { shares } = await store.read();
      if (JSON.stringify(shares) !== JSON.stringify(current)) {
        opts.logger?.info({ shares }, 'gray-release shares applied');
      }
      current = shares;
      lastError = '';
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (message !== lastError) opts.logger?.warn({ err: message }, 'gray-release shares not refreshed');
      lastError = message;
    }
  };
  const refresh = () => (running ??= apply().finally(() => (running = undefined)));
  const timer = setInterval(() => void refresh(), opts.intervalMs ?? 1000).unref();
  void refresh();
  return {
    share: (service) => current[service] ?? 0,
    shares: () => current,
    refresh,
    stop: () => clearInterval(timer),
  };
}
