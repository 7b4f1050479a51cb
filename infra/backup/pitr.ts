/**
 * Continuous archiving and point-in-time recovery with PostgreSQL's own tools:
 *   1. a source cluster archives every finished WAL segment (archive_command copies it to the
 *      archive; archive_timeout forces a segment switch at least that often while there are
 *      writes, which bounds how much committed WAL is not archived yet: the RPO of losing the
 *      primary's disk);
 *   2. pg_basebackup takes a base backup while writes go on (-X none: the WAL it needs comes from
 *      the archive, as in production);
 *   3. a NEW cluster directory is made from the base backup, with recovery.signal and
 *      restore_command + recovery_target_time in postgresql.auto.conf; it replays archived WAL up
 *      to the target, then promotes (recovery_target_action = promote) onto a new timeline.
 */
import { appendFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import {
  type ClusterHandle,
  confLines,
  giveToPg,
  handle,
  initCluster,
  listenSettings,
  pgBin,
  runAsPg,
  startCluster,
} from './pg-cluster.ts';

export interface SourceOptions {
  dataDir: string;
  archiveDir: string;
  socketDir: string;
  logFile: string;
  port: number;
  /** Seconds; forces a WAL segment switch (and so an archive) at least this often under writes. */
  archiveTimeoutS: number;
}

/** The archiving settings (the production ones differ only in where archive_command copies to). */
export const archivingSettings = (archiveDir: string, archiveTimeoutS: number) => ({
  wal_level: 'replica',
  archive_mode: 'on',
  archive_command: `test ! -f ${archiveDir}/%f && cp %p ${archiveDir}/%f`,
  archive_timeout: `${archiveTimeoutS}s`,
  // Lets the drill read the commit time of every event's transaction: exactly what
  // recovery_target_time is compared with.
  track_commit_timestamp: 'on',
  max_wal_senders: 4,
});

export async function startSourceCluster(opts: SourceOptions): Promise<ClusterHandle> {
  await initCluster(opts.dataDir);
  await appendFile(
    join(opts.dataDir, 'postgresql.conf'),
    confLines({
      ...listenSettings(opts.port, opts.socketDir),
      ...archivingSettings(opts.archiveDir, opts.archiveTimeoutS),
    }),
  );
  const cluster = handle(opts.dataDir, opts.port, opts.logFile);
  await startCluster(cluster);
  return cluster;
}

export async function dirBytes(dir: string): Promise<{ bytes: number; files: number }> {
  let bytes = 0;
  let files = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    bytes += (await stat(join(entry.parentPath, entry.name))).size;
    files += 1;
  }
  return { bytes, files };
}

/** pg_basebackup in plain format, WAL from the archive (-X none), fast checkpoint. */
export async function takeBaseBackup(source: ClusterHandle, backupDir: string): Promise<{ ms: number }> {
  const started = performance.now();
  await runAsPg(pgBin('pg_basebackup'), [
    '-h',
    '127.0.0.1',
    '-p',
    String(source.port),
    '-U',
    'postgres',
    '-D',
    backupDir,
    '-X',
    'none',
    '--checkpoint=fast',
    '--label',
    'pitr-drill',
  ]);
  return { ms: performance.now() - started };
}

/** WAL segment name of an LSN on the source (to know when the archive holds it). */
export async function walFileOf(url: string, lsn: string): Promise<string> {
  return one<{ f: string }>(url, 'SELECT pg_walfile_name($1::pg_lsn) AS f', [lsn]).then((r) => r.f);
}

/** Waits until the archiver has archived `walFile` or a later segment. */
export async function waitArchived(url: string, walFile: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await one<{ last: string | null }>(
      url,
      'SELECT last_archived_wal AS last FROM pg_stat_archiver',
    );
    // Segment names sort in WAL order within a timeline (the drill's source never changes timeline).
    if (r.last && r.last.slice(0, 24) >= walFile) return;
    if (Date.now() > deadline) throw new Error(`segment ${walFile} not archived after ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

export interface RestoreOptions {
  backupDir: string;
  archiveDir: string;
  dataDir: string;
  socketDir: string;
  logFile: string;
  port: number;
  /** A timestamptz literal (PostgreSQL's own text of it keeps the microseconds). */
  targetTime: string;
}

export interface RestoreTimings {
  /** Base backup → new data directory. */
  copyMs: number;
  /** pg_ctl start until the server accepts connections (hot standby once consistent). */
  startMs: number;
  /** Until pg_is_in_recovery() is false: target reached, promoted, writable. */
  promotedMs: number;
  totalMs: number;
}

/** Restores the base backup into a NEW cluster directory and recovers it to `targetTime`. */
export async function restoreToTime(
  opts: RestoreOptions,
): Promise<{ cluster: ClusterHandle; timings: RestoreTimings }> {
  const t0 = performance.now();
  // cp -a keeps the owner (the PostgreSQL OS user) and the 700 mode initdb requires.
  await runAsPg('cp', ['-a', opts.backupDir, opts.dataDir]);
  await appendFile(
    join(opts.dataDir, 'postgresql.auto.conf'),
    confLines({
      ...listenSettings(opts.port, opts.socketDir),
      // The restored cluster must not write into the source's archive (a production restore
      // archives its new timeline to the archive; a drill must leave it as it was).
      archive_mode: 'off',
      restore_command: `cp ${opts.archiveDir}/%f %p`,
      recovery_target_time: opts.targetTime,
      recovery_target_action: 'promote',
    }),
  );
  const signal = join(opts.dataDir, 'recovery.signal');
  await writeFile(signal, '');
  await giveToPg(signal);
  const t1 = performance.now();
  const cluster = handle(opts.dataDir, opts.port, opts.logFile);
  await startCluster(cluster);
  const t2 = performance.now();
  await waitPromoted(cluster.url(), 300_000);
  const t3 = performance.now();
  return {
    cluster,
    timings: { copyMs: t1 - t0, startMs: t2 - t1, promotedMs: t3 - t1, totalMs: t3 - t0 },
  };
}

async function waitPromoted(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await one<{ r: boolean }>(url, 'SELECT pg_is_in_recovery() AS r').catch(() => ({ r: true }));
    if (!r.r) return;
    if (Date.now() > deadline) throw new Error(`still in recovery after ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

/** One row from a short-lived connection. */
export async function one<T>(url: string, sql: string, params: unknown[] = []): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'pitr-drill' });
  // A cluster stopped under it (cleanup after a signal) fails the query; it must not crash the process.
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rows } = await client.query(sql, params);
    if (!rows[0]) throw new Error(`no row: ${sql}`);
    return rows[0] as T;
  } finally {
    await client.end();
  }
}
