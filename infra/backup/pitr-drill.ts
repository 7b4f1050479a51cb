/**
 * Point-in-time restore drill of the event store (docs/operations/backup-and-restore.md).
 *
 *   npm run drill:pitr [-- --rate 200 --workers 4 --warmup 10 --before-target 10 --after-target 10
 *                          --archive-timeout 5 --keep --no-write]
 *
 * Private PostgreSQL 15 clusters only (never the shared one); Redis and the search engine of the
 * platform's configuration, under run-unique names that it removes at the end. Writes
 * bench/results/pitr.md and the raw log bench/results/pitr.log. Exit code 1 when anything was lost.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../platform/config.ts';
import { Drill, type DrillOptions, type DrillResult } from './drill.ts';

const RESULTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results');

const USAGE = `npm run drill:pitr -- [options]

Backs up a private event store under booking traffic (continuous WAL archiving + pg_basebackup),
restores it into a NEW cluster at a time T picked while writes went on, checks that exactly the
events committed up to T are there, rebuilds the Redis and search read models from it, and prints
the recovery point (RPO) and recovery time (RTO).

  --rate N             commands per second (default 200)
  --workers N          concurrent writers (default 4)
  --warmup S           seconds of writes before the base backup (default 10)
  --before-target S    seconds of writes between the base backup and T (default 10)
  --after-target S     seconds of writes after T (default 10; keep it above --archive-timeout)
  --archive-timeout S  archive_timeout of the source cluster (default 5): bounds the RPO
  --keep               keep the work directory (clusters stopped) for inspection
  --no-write           do not write bench/results/pitr.md and pitr.log
  --help               this text
`;

function options() {
  const { values } = parseArgs({
    options: {
      rate: { type: 'string', default: '200' },
      workers: { type: 'string', default: '4' },
      warmup: { type: 'string', default: '10' },
      'before-target': { type: 'string', default: '10' },
      'after-target': { type: 'string', default: '10' },
      'archive-timeout': { type: 'string', default: '5' },
      keep: { type: 'boolean', default: false },
      'no-write': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const num = (k: keyof typeof values) => {
    const n = Number(values[k]);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${k} must be a positive number`);
    return n;
  };
  return {
    rate: num('rate'),
    workers: Math.round(num('workers')),
    warmupS: num('warmup'),
    beforeTargetS: num('before-target'),
    afterTargetS: num('after-target'),
    archiveTimeoutS: Math.round(num('archive-timeout')),
    keep: values.keep,
    write: !values['no-write'],
  };
}

const ms = (n: number) => `${n.toFixed(0)} ms`;
const s = (n: number) => `${(n / 1000).toFixed(2)} s`;
const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;

function table(r: DrillResult, archiveTimeoutS: number): string {
  const v = r.verdict;
  const rebuildMs = r.rebuild.redis.ms + r.rebuild.search.ms;
  const rows: [string, string][] = [
    ['events written (source)', String(v.written)],
    ['events committed ≤ T (expected)', String(v.expected)],
    ['events restored', String(v.restored)],
    ['lost (committed ≤ T, missing)', String(v.lost)],
    ['extra (committed > T, present)', String(v.extra)],
    ['moved (other position/revision) / broken streams', `${v.moved} / ${v.brokenStreams}`],
    [
      'client view: acked before T missing / sent after T present / in flight at T',
      `${v.client.ackedBeforeMissing} of ${v.client.ackedBefore} / ${v.client.sentAfterPresent} of ${v.client.sentAfter} / ${v.client.inFlight}`,
    ],
    ['RPO at T: T − last restored commit', `${v.gapToTargetMs.toFixed(1)} ms`],
    [
      'RPO if the primary is lost: unarchived WAL age, max sampled every 0.5 s (bound ≈ archive_timeout + one segment copy)',
      `${ms(r.maxUnarchivedMs)} (archive_timeout ${archiveTimeoutS} s)`,
    ],
    ['base backup (pg_basebackup -X none, under load)', `${ms(r.backup.ms)}, ${mb(r.backup.bytes)}`],
    ['archive', `${r.archive.segments} files, ${mb(r.archive.bytes)}, ${r.archive.failed} failed`],
    ['RTO restore: copy base backup', ms(r.restore.copyMs)],
    ['RTO restore: start → accepting connections', ms(r.restore.startMs)],
    ['RTO restore: start → WAL replayed to T, promoted', ms(r.restore.promotedMs)],
    ['RTO restore total', s(r.restore.totalMs)],
    [
      'RTO rebuild: Redis / search',
      `${ms(r.rebuild.redis.ms)} (${r.rebuild.redis.events} events) / ${ms(r.rebuild.search.ms)}`,
    ],
    [
      'read models = store (schedules, appointments, search docs)',
      `${r.rebuild.redisCounts.schedules}/${r.rebuild.store.schedules}, ${r.rebuild.redisCounts.appointments}/${r.rebuild.store.appointments}, ${r.rebuild.searchDocuments}/${r.rebuild.store.appointments} ${r.rebuild.ok ? '✓' : '✗'}`,
    ],
    ['RTO rebuild total', s(rebuildMs)],
    ['RTO total (restore + rebuild)', s(r.restore.totalMs + rebuildMs)],
  ];
  return ['| measure | value |', '| --- | --- |', ...rows.map(([k, val]) => `| ${k} | ${val} |`)].join('\n');
}

function report(r: DrillResult, o: ReturnType<typeof options>, started: Date): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `# Point-in-time restore drill of the event store

\`npm run drill:pitr\`, ${started.toISOString()}: ${os.cpus().length} × ${cpu}, ${mb(os.totalmem())} RAM,
${os.type()} ${os.release()}, PostgreSQL 15 (Debian's binaries), shared with other work.

What ran: a private source cluster (\`wal_level=replica\`, \`archive_mode=on\`, \`archive_command\`
copying each segment into a local archive directory, \`archive_timeout=${o.archiveTimeoutS}s\`,
\`track_commit_timestamp=on\`), migrated as the event store, under ${o.rate} commands/s from
${o.workers} writers (real decider + PgEventStore appends: schedules opened, bookings, cancellations).
${o.warmupS} s in, \`pg_basebackup -X none --checkpoint=fast\` under load; ${o.beforeTargetS} s later
T = \`${r.target}\` (the source's clock); ${o.afterTargetS} s more writes; then the source was
stopped with \`-m immediate\` and a NEW cluster was made from the base backup and the archive alone
(\`recovery.signal\`, \`restore_command\`, \`recovery_target_time = T\`,
\`recovery_target_action = promote\`). Each event's commit time on the source
(\`pg_xact_commit_timestamp\`) decides whether it belongs before T. Both read models were then rebuilt
from the restored store (\`projections/rebuild.ts\`: new Redis keyspace version, new index behind a
run-unique alias) and counted. Append failures during the load: ${r.appendFailures}.

${table(r, o.archiveTimeoutS)}

The RPO of a restore to a chosen T is the gap to the last commit before it (tens of ms under
steady writes). The RPO of losing the primary's disk is what was not archived yet: at most about
\`archive_timeout\` plus the copy of one segment (the sampled maximum above); streaming WAL to a
replica or \`pg_receivewal\` (synchronous) takes it to 0. The restore time is dominated by replaying
the WAL written since the base backup: take base backups often enough that replay stays short.

Recovery, from the restored cluster's log:

\`\`\`
${r.recoveryLog.join('\n')}
\`\`\`
`;
}

async function main(): Promise<number> {
  const o = options();
  const started = new Date();
  const lines: string[] = [];
  const log = (line: string) => {
    const stamped = `${new Date().toISOString()} ${line}`;
    lines.push(stamped);
    process.stdout.write(`${stamped}\n`);
  };
  const tag = randomBytes(3).toString('hex');
  const drillOptions: DrillOptions = {
    platform: loadConfig(),
    names: {
      readModelPrefix: `pitr_${tag}_rm`,
      appointmentsAlias: `pitr_${tag}_appointments`,
      groupPrefix: `pitr_${tag}_projections`,
    },
    ...o,
    log,
  };
  const drill = new Drill(drillOptions);
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      log(`${signal}: cleaning up`);
      void drill.cleanup().finally(() => process.exit(130));
    });
  let result: DrillResult | undefined;
  try {
    result = await drill.run();
  } catch (err) {
    log(`drill failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  } finally {
    await drill.cleanup();
    log('cleaned up: clusters stopped, work directory, Redis keys and indexes removed');
  }
  if (!result) return 1;
  process.stdout.write(`\n${table(result, o.archiveTimeoutS)}\n`);
  if (o.write) {
    await mkdir(RESULTS, { recursive: true });
    await writeFile(join(RESULTS, 'pitr.md'), report(result, o, started));
    await writeFile(
      join(RESULTS, 'pitr.log'),
      [...lines, '', 'restored cluster log:', ...result.recoveryLog, ''].join('\n'),
    );
    process.stdout.write(`wrote ${join(RESULTS, 'pitr.md')} and pitr.log\n`);
  }
  return result.verdict.ok && result.rebuild.ok ? 0 : 1;
}

process.exit(await main());
