/**
 * The point-in-time restore drill, end to end, on private clusters: a source event store with
 * continuous archiving under booking traffic, a base backup in the middle of it, a target time T
 * picked while writes go on, more writes, then the primary is lost (immediate stop) and a NEW
 * cluster is recovered to T from the base backup and the archive alone. The restored store is
 * checked event by event against the source, and every read model is rebuilt from it.
 * `cleanup()` removes everything it made (clusters, directories, Redis keys, indexes), whatever
 * happened; it is idempotent, so a signal handler may call it too.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../../platform/config.ts';
import { PgEventStore } from '../../platform/event-store/pg-event-store.ts';
import { createKafka } from '../../platform/kafka.ts';
import { createLogger } from '../../platform/logger.ts';
import { createPool, type Pool } from '../../platform/pg.ts';
import { createRedis } from '../../platform/redis.ts';
import { freePort } from '../../platform/free-port.ts';
import { searchFromConfig } from '../../platform/search/index.ts';
import { parseProjectionsConfig } from '../../projections/config.ts';
import { migrate } from '../migrate.ts';
import { startLoad, type Load } from './event-load.ts';
import { makePgDir, makeWorkDir, removeDir, stopCluster, type ClusterHandle } from './pg-cluster.ts';
import {
  dirBytes,
  one,
  restoreToTime,
  startSourceCluster,
  takeBaseBackup,
  waitArchived,
  walFileOf,
  type RestoreTimings,
} from './pitr.ts';
import { dropReadModels, rebuildReadModels, type RebuildReport } from './read-models.ts';
import { restoredEvents, sourceEvents, verify, type Verdict } from './verify.ts';

export interface DrillOptions {
  platform: Config;
  /** Run-unique names for the read models the drill rebuilds (never the platform's `rm`/`appointments`). */
  names: { readModelPrefix: string; appointmentsAlias: string; groupPrefix: string };
  rate: number;
  workers: number;
  /** Seconds of writes before the base backup, between it and T, and after T. */
  warmupS: number;
  beforeTargetS: number;
  afterTargetS: number;
  archiveTimeoutS: number;
  keep?: boolean;
  log: (line: string) => void;
}

export interface DrillResult {
  target: string;
  verdict: Verdict;
  backup: { ms: number; bytes: number; files: number };
  archive: { bytes: number; segments: number; waitMs: number; failed: number };
  /** Largest `now() - last_archived_time` sampled under load: the committed WAL a lost disk would take with it. */
  maxUnarchivedMs: number;
  restore: RestoreTimings;
  rebuild: RebuildReport;
  appendFailures: number;
  recoveryLog: string[];
}

const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

/** Samples the archiver of the source every 500 ms. */
function archiveSampler(url: string) {
  let max = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const r = await one<{ ms: number | null }>(
        url,
        'SELECT (extract(epoch FROM now() - last_archived_time) * 1000)::float8 AS ms FROM pg_stat_archiver',
      ).catch(() => ({ ms: null }));
      if (r.ms !== null) max = Math.max(max, r.ms);
      await new Promise((res) => setTimeout(res, 500));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return max;
    },
  };
}

export class Drill {
  private readonly cleanups: (() => Promise<void>)[] = [];
  private cleaned = false;
  workDir: string | undefined;

  constructor(private readonly opts: DrillOptions) {}

  /** Registers an undo step; after cleanup() (a signal mid-run) it runs at once, so nothing outlives it. */
  private defer(fn: () => Promise<void>): void {
    if (this.cleaned) {
      void fn().catch(() => undefined);
      throw new Error('the drill was stopped');
    }
    this.cleanups.push(fn);
  }

  async run(): Promise<DrillResult> {
    const { opts } = this;
    const work = await makeWorkDir();
    this.workDir = work;
    this.defer(() => (opts.keep ? Promise.resolve() : removeDir(work)));
    const archiveDir = await makePgDir(join(work, 'archive'));
    opts.log(`work directory ${work}`);

    const source = await startSourceCluster({
      dataDir: join(work, 'source'),
      archiveDir,
      socketDir: work,
      logFile: join(work, 'source.log'),
      port: await freePort(),
      archiveTimeoutS: opts.archiveTimeoutS,
    });
    this.defer(() => stopCluster(source.dataDir, true));
    opts.log(`source cluster on port ${source.port}, archive_timeout ${opts.archiveTimeoutS}s`);
    await one(source.url(), 'CREATE DATABASE booking').catch(() => undefined);
    await migrate(source.url('booking'));

    const pool = createPool({ DATABASE_URL: source.url('booking'), PG_POOL_MAX: opts.workers + 2 });
    const load = startLoad(new PgEventStore(pool), { rate: opts.rate, workers: opts.workers });
    this.defer(async () => {
      await load.stop();
      await pool.end().catch(() => undefined);
    });
    const sampler = archiveSampler(source.url());
    this.defer(async () => void (await sampler.stop()));
    opts.log(`writing ${opts.rate} commands/s with ${opts.workers} workers`);

    const { backup, target, lsnAfter } = await this.phases(source, load, join(work, 'base'));
    await load.stop();
    const archiveStarted = performance.now();
    await waitArchived(source.url(), await walFileOf(source.url(), lsnAfter));
    const waitMs = performance.now() - archiveStarted;
    const maxUnarchivedMs = await sampler.stop();
    const failed = (
      await one<{ n: string }>(source.url(), 'SELECT failed_count::text AS n FROM pg_stat_archiver')
    ).n;
    const expected = await sourceEvents(source.url('booking'), target.text);
    await pool.end();
    opts.log(`${load.appends.length} appends committed, ${expected.length} events; archive covers T`);
    // The primary is gone: from here on only the base backup and the archive exist.
    await stopCluster(source.dataDir, true);
    opts.log('source cluster stopped (immediate): restoring from the base backup and the archive only');

    const restored = await this.restore(work, archiveDir, target.text);
    const verdict = verify(
      expected,
      await restoredEvents(restored.cluster.url('booking')),
      load.appends,
      target,
    );
    opts.log(`verified: ${JSON.stringify(verdict)}`);
    const rebuild = await this.rebuild(restored.cluster);
    const recoveryLog = (await readFile(restored.cluster.logFile, 'utf8'))
      .split('\n')
      .filter((l) => /recovery|restored log file|consistent|promot|timeline|ready to accept/.test(l))
      .slice(-20);
    const archive = await dirBytes(archiveDir);
    return {
      target: target.text,
      verdict,
      backup: { ...backup, ...(await dirBytes(join(work, 'base'))) },
      archive: { bytes: archive.bytes, segments: archive.files, waitMs, failed: Number(failed) },
      maxUnarchivedMs,
      restore: restored.timings,
      rebuild,
      appendFailures: load.failures,
      recoveryLog,
    };
  }

  /** Writes, base backup, writes, T, writes. */
  private async phases(source: ClusterHandle, load: Load, backupDir: string) {
    const { opts } = this;
    await sleep(opts.warmupS);
    const backup = await takeBaseBackup(source, backupDir);
    opts.log(
      `base backup taken in ${backup.ms.toFixed(0)} ms while writing (${load.appends.length} appends so far)`,
    );
    await sleep(opts.beforeTargetS);
    const t = await one<{ text: string; us: string }>(
      source.url(),
      `SELECT t::text AS text, (extract(epoch FROM t) * 1000000)::bigint::text AS us
         FROM (SELECT clock_timestamp() AS t) x`,
    );
    const target = { text: t.text, epochUs: BigInt(t.us), epochMs: Number(BigInt(t.us) / 1000n) };
    opts.log(`target time T = ${target.text} (${load.appends.length} appends so far); writing on`);
    await sleep(opts.afterTargetS);
    const { lsn } = await one<{ lsn: string }>(source.url(), 'SELECT pg_current_wal_lsn()::text AS lsn');
    return { backup, target, lsnAfter: lsn };
  }

  private async restore(work: string, archiveDir: string, targetTime: string) {
    const port = await freePort();
    const dataDir = join(work, 'restored');
    this.defer(() => stopCluster(dataDir));
    const restored = await restoreToTime({
      backupDir: join(work, 'base'),
      archiveDir,
      dataDir,
      socketDir: work,
      logFile: join(work, 'restored.log'),
      port,
      targetTime,
    });
    const t = restored.timings;
    this.opts.log(
      `restored into a new cluster on port ${port}: copy ${t.copyMs.toFixed(0)} ms, ` +
        `accepting connections ${t.startMs.toFixed(0)} ms, promoted ${t.promotedMs.toFixed(0)} ms after start`,
    );
    return restored;
  }

  private async rebuild(cluster: ClusterHandle): Promise<RebuildReport> {
    const { opts } = this;
    const parsed = parseProjectionsConfig({
      READ_MODEL_PREFIX: opts.names.readModelPrefix,
      APPOINTMENTS_ALIAS: opts.names.appointmentsAlias,
      PROJECTOR_GROUP_PREFIX: opts.names.groupPrefix,
    });
    if (!parsed.ok) throw new Error(parsed.errors.join('; '));
    const logger = createLogger('pitr-drill', 'warn');
    const pool: Pool = createPool({ DATABASE_URL: cluster.url('booking'), PG_POOL_MAX: 4 });
    const redis = createRedis(opts.platform, 'pitr-drill');
    const engine = searchFromConfig(opts.platform);
    const kafka = createKafka(opts.platform, logger, `${opts.names.groupPrefix}-rebuild`);
    const deps = { pool, store: new PgEventStore(pool), kafka, redis, engine, config: parsed.config, logger };
    this.defer(async () => {
      await dropReadModels(deps).catch((err: Error) => opts.log(`read-model cleanup failed: ${err.message}`));
      redis.disconnect();
      await engine.close();
      await pool.end().catch(() => undefined);
    });
    const report = await rebuildReadModels(deps);
    opts.log(
      `rebuilt Redis in ${report.redis.ms.toFixed(0)} ms and search in ${report.search.ms.toFixed(0)} ms: ` +
        JSON.stringify({ store: report.store, redis: report.redisCounts, search: report.searchDocuments }),
    );
    return report;
  }

  /** Stops the clusters and removes what the drill made, newest first; safe to call twice. */
  async cleanup(): Promise<void> {
    if (this.cleaned) return;
    this.cleaned = true;
    for (const fn of this.cleanups.reverse())
      await fn().catch((err: unknown) => this.opts.log(`cleanup step failed: ${String(err)}`));
  }
}
