/**
 * The point-in-time restore drill, small: a private source cluster with WAL archiving under a few
 * hundred booking commands, a base backup and a target time T while they run, then a NEW cluster
 * recovered to T from the base backup and the archive alone. Exactly the events committed up to T
 * must be there, and both read models rebuilt from it must match the store.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Drill, type DrillResult } from '../../infra/backup/drill.ts';
import { createRedis, scanKeys } from '../../platform/redis.ts';
import { rootPrefix } from '../../read-models/bookings.ts';
import { searchFromConfig } from '../../platform/search/index.ts';
import { testConfig } from '../support/test-config.ts';
import { uniqueName } from '../support/wait.ts';

describe('point-in-time restore of the event store', () => {
  const names = {
    readModelPrefix: uniqueName('pitr-rm'),
    appointmentsAlias: uniqueName('pitr-appointments'),
    groupPrefix: uniqueName('pitr-projections'),
  };
  const log: string[] = [];
  let drill: Drill;
  let result: DrillResult;

  beforeAll(async () => {
    drill = new Drill({
      platform: testConfig(),
      names,
      rate: 100,
      workers: 2,
      warmupS: 1.5,
      beforeTargetS: 1.5,
      afterTargetS: 2,
      archiveTimeoutS: 1,
      log: (line) => log.push(line),
    });
    try {
      result = await drill.run();
    } catch (err) {
      throw new Error(`drill failed:\n${log.join('\n')}`, { cause: err });
    }
  });

  afterAll(async () => {
    await drill?.cleanup();
  });

  it('given writes before and after T, when restored to T, then exactly the events committed up to T are there', () => {
    const v = result.verdict;
    expect(v.written).toBeGreaterThan(300);
    expect(v.expected).toBeGreaterThan(100);
    expect(v.written - v.expected).toBeGreaterThan(50);
    expect(v.restored).toBe(v.expected);
    expect({ lost: v.lost, extra: v.extra, moved: v.moved, brokenStreams: v.brokenStreams }).toEqual({
      lost: 0,
      extra: 0,
      moved: 0,
      brokenStreams: 0,
    });
    // The client's own clock agrees: acknowledged before T → restored; sent after T → gone.
    expect(v.client.ackedBefore).toBeGreaterThan(100);
    expect(v.client.sentAfter).toBeGreaterThan(50);
    expect(v.client.ackedBeforeMissing).toBe(0);
    expect(v.client.sentAfterPresent).toBe(0);
    expect(v.ok).toBe(true);
  });

  it('recovers from the archive and promotes, within the archive_timeout bound', () => {
    expect(result.archive.failed).toBe(0);
    expect(result.restore.promotedMs).toBeGreaterThan(0);
    expect(result.recoveryLog.join('\n')).toMatch(/recovery stopping before commit/);
    expect(result.verdict.gapToTargetMs).toBeGreaterThanOrEqual(0);
  });

  it('rebuilds the Redis and search read models from the restored store with the same counts', () => {
    const r = result.rebuild;
    expect(r.store.appointments).toBeGreaterThan(100);
    expect(r.redisCounts).toEqual(r.store);
    expect(r.searchDocuments).toBe(r.store.appointments);
  });

  it('leaves nothing behind: clusters, work directory, Redis keys, indexes', async () => {
    await drill.cleanup();
    expect(existsSync(drill.workDir!)).toBe(false);
    const config = testConfig();
    const redis = createRedis(config, 'pitr-test');
    const engine = searchFromConfig(config);
    try {
      const left = await scanKeys(redis, `${rootPrefix(names.readModelPrefix)}*`);
      expect(left).toEqual([]);
      expect(await engine.aliasTargets(names.appointmentsAlias)).toEqual([]);
    } finally {
      redis.disconnect();
      await engine.close();
    }
  });
});
