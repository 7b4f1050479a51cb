/**
 * The platform under test: `npm start`'s supervisor, run in a namespace of its own (a scratch
 * database, a `chaos_` prefix on every topic, consumer group, connector, slot, Redis key and
 * index, ports of its own), so a chaos run never touches the platform's data and leaves nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openSync, closeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { migrate } from '../../infra/migrate.ts';
import { parseConfig } from '../../platform/config.ts';
import { createRunDatabase, removeRun, type Engines } from '../../tests/support/test-run-inventory.ts';
import { runEnvironment } from '../../tests/support/test-run.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
export const ADMIN_URL = process.env.PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/**
 * A tag of its own per run (Kafka Connect keeps a deleted connector's offsets: a name used again
 * would resume from them). A run first removes what interrupted earlier runs left, found by
 * their databases.
 */
export const TAG = `chaos${randomBytes(3).toString('hex')}_`;
const DATABASE_SUFFIX = 'booking';

export function enginesOf(): Engines {
  const parsed = parseConfig(process.env);
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  const c = parsed.config;
  return {
    adminUrl: ADMIN_URL,
    kafkaBrokers: c.KAFKA_BROKERS,
    connectUrl: c.KAFKA_CONNECT_URL,
    searchUrl: c.SEARCH_URL,
    redisUrl: c.REDIS_URL,
  };
}

export interface Namespace {
  databaseUrl: string;
  env: Record<string, string>;
  remove(): Promise<Record<string, number>>;
}

/** Removes every earlier chaos run's namespace; returns their tags. */
async function removeLeftovers(engines: Engines, admin: pg.Client): Promise<string[]> {
  const { rows } = await admin.query<{ datname: string }>(
    `SELECT datname FROM pg_database WHERE datname ~ '^chaos[0-9a-f]{6}_${DATABASE_SUFFIX}$'`,
  );
  for (const { datname } of rows)
    await removeRun(engines, datname.slice(0, -DATABASE_SUFFIX.length), datname);
  return rows.map((r) => r.datname.slice(0, -DATABASE_SUFFIX.length));
}

export async function createNamespace(
  ports: Ports,
  jwtSecret: string,
  log: (line: string) => void,
): Promise<Namespace> {
  const engines = enginesOf();
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    const left = await removeLeftovers(engines, admin);
    if (left.length) log(`removed what earlier runs left: ${left.join(', ')}`);
  } finally {
    await admin.end();
  }
  const { name: database, url } = await createRunDatabase(engines, TAG);
  const base = new URL(url);
  await migrate(base.href, () => undefined);
  return {
    databaseUrl: base.href,
    env: {
      ...runEnvironment(TAG, base.href),
      KAFKA_CLIENT_ID: `${TAG}platform`,
      JWT_SECRET: jwtSecret,
      PLATFORM_PORT: String(ports.platform),
      COMMAND_API_PORT: String(ports.command),
      QUERY_API_PORT: String(ports.query),
      PROJECTIONS_PORT: String(ports.projections),
      CATALOG_PROJECTIONS_PORT: String(ports.catalog),
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'warn',
    },
    remove: () => removeRun(engines, TAG, database),
  };
}

export interface Ports {
  platform: number;
  command: number;
  query: number;
  projections: number;
  catalog: number;
}

/** Public ports from `base`; each admin port is public + 1000, as the services default it. */
export const portsFrom = (base: number): Ports => ({
  platform: base,
  command: base + 1,
  query: base + 2,
  projections: base + 3,
  catalog: base + 4,
});

export interface ServiceView {
  name: string;
  running: boolean;
  pid?: number;
  restarts: number;
  live?: string;
  ready?: boolean;
  reasons?: string[];
}

export interface Platform {
  /** The supervisor's detailed health (admin port). */
  health(): Promise<{ status: string; ready: boolean; reasons: string[]; services: ServiceView[] }>;
  pidOf(service: string): Promise<number>;
  stop(): Promise<void>;
}

export async function startPlatform(ns: Namespace, ports: Ports, logFile: string): Promise<Platform> {
  const out = openSync(logFile, 'a');
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'supervisor/main.ts'], {
    cwd: root,
    env: { ...process.env, ...ns.env },
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  const adminUrl = `http://127.0.0.1:${ports.platform + 1000}`;
  const platform: Platform = {
    async health() {
      const res = await fetch(`${adminUrl}/healthz`, { signal: AbortSignal.timeout(2_000) });
      return (await res.json()) as Awaited<ReturnType<Platform['health']>>;
    },
    async pidOf(service) {
      const pid = (await platform.health()).services.find((s) => s.name === service)?.pid;
      if (pid === undefined) throw new Error(`${service} has no running process`);
      return pid;
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
  const deadline = Date.now() + 300_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the supervisor exited (${child.exitCode}); see ${logFile}`);
    const h = await platform.health().catch(() => undefined);
    if (h?.ready && h.services.every((s) => s.ready)) return platform;
    if (Date.now() > deadline) {
      await platform.stop();
      throw new Error(`platform not ready in 300 s: ${JSON.stringify(h?.reasons)}; see ${logFile}`);
    }
    await sleep(1_000);
  }
}
