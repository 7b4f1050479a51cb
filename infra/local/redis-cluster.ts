/**
 * A real three-master Redis Cluster from the machine's `redis-server`, for running the platform
 * (and its Redis tests) against a cluster (docs/adr/0020). Separate from `npm run engines`: the
 * single Redis on 6379 stays the default, and the cluster is started only when asked for.
 *
 *   npm run redis-cluster -- up      # 127.0.0.1:7000-7002, one master each, slots split in three
 *   npm run redis-cluster -- status
 *   npm run redis-cluster -- down    # stops the nodes and removes their data
 *
 * then `REDIS_CLUSTER_NODES=127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002`. No persistence (the
 * read models are rebuilt from the event log), no replicas (one machine). Ports and data directory:
 * REDIS_CLUSTER_PORT (first port, default 7000) and REDIS_CLUSTER_DIR (default
 * ~/.cache/booking-engines/redis-cluster).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { ENGINES_HOME } from './engine-specs.ts';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const CLUSTER_MASTERS = 3;

export interface ClusterLayout {
  dir: string;
  ports: number[];
  /** The value for REDIS_CLUSTER_NODES. */
  nodes: string;
}

export function clusterLayout(env: Record<string, string | undefined> = process.env): ClusterLayout {
  const first = Number(env.REDIS_CLUSTER_PORT ?? 7000);
  const ports = Array.from({ length: CLUSTER_MASTERS }, (_, i) => first + i);
  return {
    dir: env.REDIS_CLUSTER_DIR ?? join(ENGINES_HOME, 'redis-cluster'),
    ports,
    nodes: ports.map((p) => `127.0.0.1:${p}`).join(','),
  };
}

const pidFile = (layout: ClusterLayout, port: number) => join(layout.dir, `${port}.pid`);

/** One command to the redis-server on `port`; undefined while it does not answer (starting, gone). */
export async function probe(port: number, command: string[]): Promise<string | undefined> {
  const client = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined); // refused while the node starts: "not yet"
  try {
    await client.connect();
    return String(await client.call(command[0]!, ...command.slice(1)));
  } catch {
    return undefined;
  } finally {
    client.disconnect();
  }
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

const clusterInfo = async (port: number, field: string): Promise<string | undefined> =>
  (await probe(port, ['CLUSTER', 'INFO']))?.match(new RegExp(`^${field}:(\\S+)`, 'm'))?.[1];

/** Starts the nodes that are not running and joins them into one cluster if they are not yet. */
export async function clusterUp(
  layout = clusterLayout(),
  log: (line: string) => void = console.log,
): Promise<void> {
  mkdirSync(layout.dir, { recursive: true });
  for (const port of layout.ports) {
    if ((await probe(port, ['PING'])) === 'PONG') {
      if ((await clusterInfo(port, 'cluster_state')) === undefined)
        throw new Error(`port ${port} is taken by a Redis that is not a cluster node`);
      continue;
    }
    const dir = join(layout.dir, String(port));
    mkdirSync(dir, { recursive: true });
    // Daemonized with a pid file: `down` stops exactly these processes.
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        'nodes.conf',
        '--cluster-node-timeout',
        '5000',
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'yes',
        '--pidfile',
        pidFile(layout, port),
        '--logfile',
        join(layout.dir, `${port}.log`),
      ],
      { stdio: 'ignore' },
    );
    await new Promise((resolve) => child.once('exit', resolve));
    await waitUntil(`redis-server on ${port}`, async () => (await probe(port, ['PING'])) === 'PONG');
    log(`redis cluster node 127.0.0.1:${port} started (data ${dir})`);
  }
  if ((await clusterInfo(layout.ports[0]!, 'cluster_slots_assigned')) !== '16384') {
    await run('redis-cli', [
      '--cluster',
      'create',
      ...layout.ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    log(`redis cluster created: ${CLUSTER_MASTERS} masters, 16384 slots`);
  }
  for (const port of layout.ports) {
    await waitUntil(
      `cluster_state:ok on ${port}`,
      async () => (await clusterInfo(port, 'cluster_state')) === 'ok',
    );
  }
  log(`redis cluster ready: REDIS_CLUSTER_NODES=${layout.nodes}`);
}

/** Stops the nodes this launcher started (by their pid files) and removes their data. */
export async function clusterDown(
  layout = clusterLayout(),
  log: (line: string) => void = console.log,
): Promise<void> {
  for (const port of layout.ports) {
    const file = pidFile(layout, port);
    if (!existsSync(file)) continue;
    const pid = Number(readFileSync(file, 'utf8').trim());
    try {
      process.kill(pid, 'SIGTERM');
      await waitUntil(`redis-server ${pid} to exit`, () => Promise.resolve(!alive(pid)), 10_000);
      log(`redis cluster node 127.0.0.1:${port} (pid ${pid}) stopped`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
  rmSync(layout.dir, { recursive: true, force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function clusterStatus(layout = clusterLayout()): Promise<{ port: number; state: string }[]> {
  return Promise.all(
    layout.ports.map(async (port) => ({
      port,
      state: (await clusterInfo(port, 'cluster_state')) ?? 'not running',
    })),
  );
}

async function main(command: string | undefined): Promise<number> {
  switch (command) {
    case 'up':
      await clusterUp();
      return 0;
    case 'down':
      await clusterDown();
      return 0;
    case 'status': {
      const rows = await clusterStatus();
      for (const r of rows) console.log(`127.0.0.1:${r.port} cluster_state ${r.state}`);
      return rows.every((r) => r.state === 'ok') ? 0 : 3;
    }
    default:
      console.error('usage: npm run redis-cluster -- up | down | status');
      return 2;
  }
}

if (process.argv[1]?.endsWith('redis-cluster.ts')) {
  main(process.argv[2]).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`redis-cluster: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
