/** Reading what a test wrote to Redis under its own prefix. */
import type { Redis } from 'ioredis';

/** Every key matching `match` (SCAN, so a large keyspace is not blocked). */
export async function scanKeys(redis: Redis, match: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  return keys;
}

/** Every hash and sorted set under `prefix`, keyed by the rest of the key name. */
export async function snapshotUnder(redis: Redis, prefix: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const key of (await scanKeys(redis, `${prefix}*`)).sort()) {
    const type = await redis.type(key);
    out[key.slice(prefix.length)] =
      type === 'hash' ? await redis.hgetall(key) : await redis.zrange(key, 0, -1, 'WITHSCORES');
  }
  return out;
}
