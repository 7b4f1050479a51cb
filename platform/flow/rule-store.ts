/**
 * Flow rules as live data: one Redis hash per environment (`FLOW_RULES_KEY`, default
 * `flow:rules`) holding the rules document, its version and who replaced it when. No hash: the
 * file default (default-rules.ts) at version 0. Every instance polls the version once a second
 * and applies a change with `setRules` (state of unchanged rules kept), so a change reaches all
 * of them within about 1 s plus a round trip, without a restart.
 *
 * Why a poll and not pub/sub: a published message is fire-and-forget (one missed during a
 * reconnect is lost for good, and the instance keeps stale rules until the next change), and it
 * needs a connection of its own per process. A poll of one small hash is one command a second per
 * instance, heals by itself after any outage and bounds the delay the same way for every instance.
 */
import type { RedisClient } from '../redis.ts';
import type { Logger } from '../logger.ts';
import type { FlowControl } from './flow-control.ts';
import { parseFlowRules, type FlowRules } from './rules.ts';

export interface StoredFlowRules {
  /** 0: the file default (nothing in Redis); every replacement adds one. */
  version: number;
  source: 'default' | 'redis';
  rules: FlowRules;
  updatedAt?: string;
  updatedBy?: string;
}

export type ReplaceOutcome = { ok: true; stored: StoredFlowRules } | { ok: false; currentVersion: number };

// Compare-and-set on the version, atomically: two admins replacing at once cannot both win.
const REPLACE = `
local raw = redis.call('HGET', KEYS[1], 'version')
local current = 0
if raw then current = tonumber(raw) end
if current ~= tonumber(ARGV[1]) then return {0, current} end
redis.call('HSET', KEYS[1], 'version', current + 1, 'rules', ARGV[2], 'updatedAt', ARGV[3], 'updatedBy', ARGV[4])
return {1, current + 1}
`;

export class FlowRuleStore {
  constructor(
    private readonly redis: RedisClient,
    readonly key: string,
    /** The rules while the key holds none (the file default). */
    readonly fallback: () => FlowRules,
  ) {
    if (redis.status === 'ready') this.everReady = true;
    else redis.once('ready', () => (this.everReady = true));
  }

  /** False until the client first connected (while reconnecting after an outage it is an outage). */
  connected(): boolean {
    return !['wait', 'connecting'].includes(this.redis.status) || this.everReady;
  }

  private everReady = false;

  /** The current document; throws when Redis does not answer or the stored document is invalid. */
  async read(): Promise<StoredFlowRules> {
    const h = await this.redis.hgetall(this.key);
    if (h.version === undefined || h.rules === undefined) {
      return { version: 0, source: 'default', rules: this.fallback() };
    }
    return {
      version: Number(h.version),
      source: 'redis',
      rules: parseFlowRules(JSON.parse(h.rules)),
      ...(h.updatedAt ? { updatedAt: h.updatedAt } : {}),
      ...(h.updatedBy ? { updatedBy: h.updatedBy } : {}),
    };
  }

  /**
   * Version and time of the last replacement (what the poll reads each second): the time too, so a
   * hash deleted and written again at an old version number is still seen as new.
   */
  async stamp(): Promise<string> {
    const [version, updatedAt] = await this.redis.hmget(this.key, 'version', 'updatedAt');
    return `${version ?? 0}@${updatedAt ?? ''}`;
  }

  /** Replaces the rules if `expectedVersion` is still the current version. */
  async replace(
    expectedVersion: number,
    rules: FlowRules,
    by: string,
    now = new Date(),
  ): Promise<ReplaceOutcome> {
    const updatedAt = now.toISOString();
    const [ok, version] = (await this.redis.eval(
      REPLACE,
      1,
      this.key,
      String(expectedVersion),
      JSON.stringify(rules),
      updatedAt,
      by,
    )) as [number, number];
    if (ok !== 1) return { ok: false, currentVersion: version };
    return { ok: true, stored: { version, source: 'redis', rules, updatedAt, updatedBy: by } };
  }
}

const stampOf = (s: StoredFlowRules) => `${s.version}@${s.updatedAt ?? ''}`;

export interface FlowRuleWatch {
  /** What this instance applies now. */
  current(): StoredFlowRules;
  /** Reads and applies at once (after a local PUT; tests). */
  refresh(): Promise<void>;
  stop(): void;
}

/**
 * Polls the store every `intervalMs` and applies a new version to `flow`. While Redis does not
 * answer, the rules last applied stay (a flow-control outage must not drop every limit); an
 * invalid stored document is logged and skipped the same way.
 */
export function watchFlowRules(
  store: FlowRuleStore,
  flow: FlowControl,
  opts: { intervalMs?: number; logger?: Logger } = {},
): FlowRuleWatch {
  let current: StoredFlowRules = { version: 0, source: 'default', rules: flow.currentRules };
  let lastError = '';
  let running: Promise<void> | undefined;
  const apply = async () => {
    // Not connected yet (start-up): the next poll reads them; nothing to warn about.
    if (!store.connected()) return;
    try {
      const stamp = await store.stamp();
      if (stamp === stampOf(current)) return;
      const next = await store.read();
      flow.setRules(next.rules);
      current = next;
      lastError = '';
      opts.logger?.info({ version: next.version, source: next.source }, 'flow rules applied');
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      // Logged once per distinct failure, not once a second.
      if (message !== lastError) opts.logger?.warn({ err: message }, 'flow rules not refreshed');
      lastError = message;
    }
  };
  const refresh = () => (running ??= apply().finally(() => (running = undefined)));
  const timer = setInterval(() => void refresh(), opts.intervalMs ?? 1000).unref();
  void refresh();
  return { current: () => current, refresh, stop: () => clearInterval(timer) };
}
