/**
 * A Redis that answers in time is not reported as failing because this process's event loop was
 * busy (platform/redis-command-timeout.ts, query-api/redis-watch.ts), while a Redis that really
 * does not answer still is. A private redis-server, so CLIENT PAUSE stalls no other test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, whenReady, type RedisClient } from '../../platform/redis.ts';
import { watchRedis } from '../../query-api/redis-watch.ts';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.ts';
import { waitFor } from '../support/wait.ts';

const blockLoop = (ms: number) => {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // a synchronous burst: what a loaded host or a GC pause does to the loop
  }
};

describe('Redis deadlines on a busy event loop', () => {
  let server: PrivateRedis;
  let redis: RedisClient;
  let admin: RedisClient;

  beforeAll(async () => {
    server = await startPrivateRedis();
    const client = { REDIS_URL: server.url };
    redis = createRedis(client, 'busy-loop-test', {
      enableOfflineQueue: false,
      commandTimeout: 80,
      maxRetriesPerRequest: 0,
    });
    admin = createRedis(client, 'busy-loop-admin');
    await Promise.all([whenReady(redis), whenReady(admin)]);
  });

  afterAll(async () => {
    redis?.disconnect();
    admin?.disconnect();
    await server?.kill();
  });

  it('a reply that arrived while the loop was blocked past the budget is not a timeout', async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < 20; i++) {
      const reply = redis.get('absent').then(
        () => 'ok',
        (err: Error) => err.message,
      );
      blockLoop(150);
      outcomes.push(await reply);
    }
    expect(outcomes.filter((o) => o !== 'ok')).toEqual([]);
  });

  it('a Redis that does not answer still fails within the budget and a loop turn', async () => {
    await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
    try {
      const t0 = Date.now();
      await expect(redis.get('absent')).rejects.toThrow('Command timed out');
      const waited = Date.now() - t0;
      console.log(`[busy-loop] an unanswered GET failed after ${waited} ms (budget 80 ms)`);
      expect(waited).toBeLessThan(1000);
    } finally {
      await admin.call('CLIENT', 'UNPAUSE');
    }
  });

  it('the read path keeps calling a Redis answering through a blocked loop, and not a paused one', async () => {
    const watch = watchRedis(redis, { intervalMs: 50, rebuildingKey: 'absent:rebuilding' });
    try {
      await waitFor(async () => (watch.answering() ? true : undefined), { what: 'answering' });
      const seen: boolean[] = [];
      for (let i = 0; i < 5; i++) {
        blockLoop(700);
        seen.push(watch.answering());
        await new Promise((r) => setTimeout(r, 20));
        seen.push(watch.answering());
      }
      expect(seen.every(Boolean)).toBe(true);

      await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
      try {
        await waitFor(async () => (watch.answering() ? undefined : true), {
          timeoutMs: 1_000,
          intervalMs: 10,
          what: 'a paused Redis judged not answering',
        });
      } finally {
        await admin.call('CLIENT', 'UNPAUSE');
      }
      await waitFor(async () => (watch.answering() ? true : undefined), {
        timeoutMs: 2_000,
        what: 'answering again after the pause',
      });
    } finally {
      watch.stop();
    }
  });
});
