/**
 * Private PostgreSQL clusters for the backup and restore drill: initdb into a directory of our
 * own, start and stop with pg_ctl, on a free port. Never the machine's shared cluster (its
 * configuration is not ours to change: it runs with archive_mode off).
 *
 * PostgreSQL refuses to run as root; when this process is root every binary runs as the
 * `postgres` OS user (runuser), and every directory it writes is handed to that user.
 */
import { execFile } from 'node:child_process';
import { chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** Debian's PostgreSQL 15 binaries; PG_BIN moves them. */
export const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
/** The OS user that runs PostgreSQL when we are root. */
export const PG_OS_USER = process.env.PG_OS_USER ?? 'postgres';

const asRoot = (): boolean => process.getuid?.() === 0;

/** Runs a program (as the PostgreSQL OS user when we are root); rejects with its stderr. */
export async function runAsPg(program: string, args: string[], timeoutMs = 300_000): Promise<string> {
  const [file, argv] = asRoot() ? ['runuser', ['-u', PG_OS_USER, '--', program, ...args]] : [program, args];
  try {
    const { stdout } = await exec(file, argv, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${program} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`, { cause: err });
  }
}

export const pgBin = (name: string): string => join(PG_BIN, name);

let owner: { uid: number; gid: number } | undefined;

/** Hands a path to the PostgreSQL OS user (no-op unless we are root). */
export async function giveToPg(path: string): Promise<void> {
  if (!asRoot()) return;
  if (!owner) {
    const [uid, gid] = await Promise.all(
      ['-u', '-g'].map(async (flag) => Number((await exec('id', [flag, PG_OS_USER])).stdout.trim())),
    );
    owner = { uid: uid!, gid: gid! };
  }
  await chown(path, owner.uid, owner.gid);
}

/** A fresh working directory (mode 700) the PostgreSQL OS user owns. */
export async function makeWorkDir(prefix = 'pitr-drill-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await giveToPg(dir);
  return dir;
}

export async function makePgDir(path: string): Promise<string> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  await giveToPg(path);
  return path;
}

export const removeDir = (path: string): Promise<void> => rm(path, { recursive: true, force: true });

export interface ClusterHandle {
  dataDir: string;
  port: number;
  logFile: string;
  url(database?: string): string;
}

export const clusterUrl = (port: number, database = 'postgres'): string =>
  `postgres://postgres@127.0.0.1:${port}/${database}`;

export function handle(dataDir: string, port: number, logFile: string): ClusterHandle {
  return { dataDir, port, logFile, url: (db) => clusterUrl(port, db) };
}

/** `key = 'value'` lines for postgresql.conf / postgresql.auto.conf (later lines win). */
export function confLines(settings: Record<string, string | number>): string {
  const quote = (v: string | number) => (typeof v === 'number' ? String(v) : `'${v.replaceAll("'", "''")}'`);
  return Object.entries(settings)
    .map(([k, v]) => `${k} = ${quote(v)}\n`)
    .join('');
}

/** Connection settings every private cluster gets: loopback only, its socket in its own directory. */
export const listenSettings = (port: number, socketDir: string): Record<string, string | number> => ({
  port,
  listen_addresses: '127.0.0.1',
  unix_socket_directories: socketDir,
});

/** initdb with trust authentication (loopback only, a throw-away cluster). */
export async function initCluster(dataDir: string): Promise<void> {
  await runAsPg(pgBin('initdb'), [
    '-D',
    dataDir,
    '-U',
    'postgres',
    '--auth=trust',
    '-E',
    'UTF8',
    '--locale=C',
    '--no-instructions',
  ]);
}

export async function startCluster(cluster: ClusterHandle): Promise<void> {
  await runAsPg(pgBin('pg_ctl'), ['-D', cluster.dataDir, '-l', cluster.logFile, '-w', '-t', '300', 'start']);
}

/** Fast shutdown; immediate when `immediate` (a crash, as far as the cluster knows). Quiet if it is not running. */
export async function stopCluster(dataDir: string, immediate = false): Promise<void> {
  await runAsPg(pgBin('pg_ctl'), ['-D', dataDir, '-m', immediate ? 'immediate' : 'fast', '-w', 'stop']).catch(
    (err: Error) => {
      if (!/PID file .* does not exist|Is server running/.test(err.message)) throw err;
    },
  );
}
