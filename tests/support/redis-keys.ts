/** Reading what a test wrote to Redis under its own prefix (a single Redis or every cluster master). */
import calculateSlot from 'cluster-key-slot';
import { scanKeys as scanEveryMaster, type RedisClient } from '../../platform/redis.ts';

/** Every key matching `match` (SCAN on every master, so a large keyspace is not blocked). */
export const scanKeys = (redis: RedisClient, match: string): Promise<string[]> =>
  scanEveryMaster(redis, match);

/** Every hash and sorted set under `prefix`, keyed by the rest of the key name. */
export async function snapshotUnder(redis: RedisClient, prefix: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const key of (await scanKeys(redis, `${prefix}*`)).sort()) {
    const type = await redis.type(key);
    out[key.slice(prefix.length)] =
      type === 'hash' ? await redis.hgetall(key) : await redis.zrange(key, 0, -1, 'WITHSCORES');
  }
  return out;
}

/**
 * UNLINKs `keys`, one command per hash slot (and per 500 keys): on a cluster a multi-key command
 * must stay in one slot, and a test's keys span several (each key root is a slot of its own).
 */
export async function unlinkKeys(redis: RedisClient, keys: readonly string[]): Promise<number> {
  const bySlot = new Map<number, string[]>();
  for (const key of keys) {
    const slot = calculateSlot(key);
    const list = bySlot.get(slot);
    if (list) list.push(key);
    else bySlot.set(slot, [key]);
  }
  let removed = 0;
  for (const list of bySlot.values()) {
    for (let i = 0; i < list.length; i += 500) removed += await redis.unlink(...list.slice(i, i + 500));
  }
  return removed;
}
