/**
 * Start-up benchmark: each service started from the TypeScript sources under tsx (`npm start`)
 * and from the build on plain node (`npm run start:prod`), on the real engines.
 *
 *   flock /tmp/int-tests.lock npm run bench:startup            # 3 repetitions
 *   flock /tmp/int-tests.lock npm run bench:startup -- --reps 5
 *   flock /tmp/int-tests.lock npm run bench:startup -- --reps 1 --services delivery   # a subset:
 *     printed only, bench/results/ is not touched
 *
 * Builds dist/ first (`npm run build`). For every service, both ways, interleaved (tsx, node, tsx,
 * node, …) after one unmeasured warm-up run each (page cache, tsx's transform cache): the time from
 * spawn until /healthz first answers 200 (the process is up and serving), until /readyz first
 * answers 200 (its dependencies answer and its parts started), and its resident set (VmRSS of
 * /proc/<pid>/status) at that moment. Medians; ratio node / tsx.
 *
 * Runs in a namespace of its own: a scratch database (created as postgres@127.0.0.1, migrated,
 * dropped at the end) and a `bench_startup_<hex>_` prefix on every topic, consumer group, Redis key
 * and search index the services create, all removed at the end. Writes bench/results/startup.md
 * (with the telemetry preload, as the supervisor starts services) or startup-no-telemetry.md.
 *
 * Every service the supervisor runs (supervisor/main.ts), each alone: the workers that read Kafka
 * (projections, delivery, the request processor) get topics and groups of the namespace; the
 * gateway serves web/dist when it is built, else a one-file stand-in (its /readyz needs an app),
 * and its API upstreams need not run (its readiness does not wait on them).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { migrate } from '../infra/migrate.ts';
import { loadConfig } from '../platform/config.ts';
import { freePort } from '../platform/free-port.ts';
import { runEnvironment } from '../tests/support/test-run.ts';

const { values: args } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    'timeout-ms': { type: 'string', default: '60000' },
    // Services start as the supervisor starts them: with the OpenTelemetry preload.
    'no-telemetry': { type: 'boolean', default: false },
    /** Comma-separated service names (default: all); a subset's results are printed, not written. */
    services: { type: 'string' },
  },
});
const TELEMETRY = !args['no-telemetry'];
const REPS = Number(args.reps);
const TIMEOUT_MS = Number(args['timeout-ms']);
const ADMIN_URL = process.env.PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const root = fileURLToPath(new URL('..', import.meta.url));
const config = loadConfig();

type Mode = 'tsx' | 'node';
interface Service {
  name: string;
  /** Entry under the sources; dist/ has the same path with .js. */
  entry: string;
}
const ALL_SERVICES: Service[] = [
  { name: 'command-api', entry: 'command-api/main.ts' },
  { name: 'query-api', entry: 'query-api/main.ts' },
  { name: 'projections', entry: 'projections/main.ts' },
  { name: 'catalog-projections', entry: 'projections/catalog/main.ts' },
  { name: 'notifications', entry: 'notifications/main.ts' },
  { name: 'gateway', entry: 'gateway/main.ts' },
  { name: 'delivery', entry: 'delivery/main.ts' },
  { name: 'request-processor', entry: 'requests/main.ts' },
];

function selectServices(list: string | undefined): Service[] {
  if (list === undefined) return ALL_SERVICES;
  const names = list.split(',').map((n) => n.trim());
  const unknown = names.filter((n) => !ALL_SERVICES.some((s) => s.name === n));
  if (unknown.length > 0 || names.length === 0) {
    throw new Error(
      `--services: unknown ${unknown.join(', ')}; known: ${ALL_SERVICES.map((s) => s.name).join(', ')}`,
    );
  }
  return ALL_SERVICES.filter((s) => names.includes(s.name));
}
const SERVICES = selectServices(args.services);
const PARTIAL = SERVICES.length < ALL_SERVICES.length;

interface Sample {
  healthzMs: number | undefined;
  readyzMs: number | undefined;
  rssMb: number | undefined;
}

const tag = `bench_startup_${randomBytes(3).toString('hex')}_`;
const database = tag.slice(0, -1);

async function answers200(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

function rssMb(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

async function runOnce(service: Service, mode: Mode, env: Record<string, string>): Promise<Sample> {
  const port = await freePort();
  const preload = (ext: string) =>
    TELEMETRY
      ? [
          '--import',
          new URL(`../${mode === 'tsx' ? '' : 'dist/'}platform/telemetry-register.${ext}`, import.meta.url)
            .href,
        ]
      : [];
  const args =
    mode === 'tsx'
      ? ['--import', 'tsx', ...preload('ts'), service.entry]
      : [...preload('js'), `dist/${service.entry.replace(/\.ts$/, '.js')}`];
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: {
      ...process.env,
      ...env,
      LOG_FORMAT: 'json',
      PORT: String(port),
      ADMIN_PORT: '0',
      PROJECTIONS_PORT: String(port),
      CATALOG_PROJECTIONS_PORT: String(port),
      GATEWAY_PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  const keep = (chunk: Buffer) => (tail = (tail + chunk.toString()).slice(-3000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const base = `http://127.0.0.1:${port}`;
  const sample: Sample = { healthzMs: undefined, readyzMs: undefined, rssMb: undefined };
  try {
    while (performance.now() - started < TIMEOUT_MS) {
      if (child.exitCode !== null) throw new Error(`${service.name} (${mode}) exited:\n${tail}`);
      if (sample.healthzMs === undefined && (await answers200(`${base}/healthz`))) {
        sample.healthzMs = performance.now() - started;
      }
      if (sample.healthzMs !== undefined && (await answers200(`${base}/readyz`))) {
        sample.readyzMs = performance.now() - started;
        sample.rssMb = rssMb(child.pid!);
        return sample;
      }
      await sleep(10);
    }
    console.warn(`  ${service.name} (${mode}): not ready within ${TIMEOUT_MS} ms; last output:\n${tail}`);
    sample.rssMb = rssMb(child.pid!);
    return sample;
  } finally {
    await stop(child);
  }
}

const median = (xs: (number | undefined)[]): number | undefined => {
  const v = xs.filter((x): x is number => x !== undefined).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1]! + v[mid]!) / 2;
};
const fmt = (x: number | undefined, digits = 0) => (x === undefined ? 'n/a' : x.toFixed(digits));
const ratio = (node: number | undefined, tsx: number | undefined) =>
  node === undefined || tsx === undefined ? 'n/a' : `${(node / tsx).toFixed(2)}×`;

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'bench-startup' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function createDatabase(): Promise<string> {
  const owner = new URL(config.DATABASE_URL).username || 'booking';
  await withClient(ADMIN_URL, (c) =>
    c.query(`CREATE DATABASE ${pg.escapeIdentifier(database)} OWNER ${pg.escapeIdentifier(owner)}`),
  );
  const url = new URL(config.DATABASE_URL);
  url.pathname = `/${database}`;
  await migrate(url.href, () => undefined);
  return url.href;
}

/** Removes everything carrying the tag, and the scratch database; returns what it removed. */
async function cleanUp(): Promise<string[]> {
  const removed: string[] = [];
  const step = async (what: string, fn: () => Promise<number>) => {
    try {
      removed.push(`${what}: ${await fn()}`);
    } catch (err) {
      removed.push(`${what}: FAILED (${err instanceof Error ? err.message : String(err)})`);
    }
  };
  await step('database', async () => {
    await withClient(ADMIN_URL, (c) =>
      c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`),
    );
    return 1;
  });
  const kafka = new Kafka({
    clientId: `${tag}cleanup`,
    brokers: config.KAFKA_BROKERS,
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await step('consumer groups', async () => {
      const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(tag));
      if (groups.length) await admin.deleteGroups(groups);
      return groups.length;
    });
    await step('topics', async () => {
      const topics = (await admin.listTopics()).filter((t) => t.startsWith(tag));
      if (topics.length) await admin.deleteTopics({ topics, timeout: 30_000 });
      return topics.length;
    });
  } finally {
    await admin.disconnect();
  }
  await step('search indices', async () => {
    const res = await fetch(`${config.SEARCH_URL}/_cat/indices?format=json`);
    const indices = ((await res.json()) as { index: string }[])
      .map((i) => i.index)
      .filter((i) => i.startsWith(tag));
    for (const index of indices) {
      const del = await fetch(`${config.SEARCH_URL}/${encodeURIComponent(index)}`, { method: 'DELETE' });
      if (!del.ok) throw new Error(`DELETE ${index} -> ${del.status}`);
    }
    return indices.length;
  });
  await step('redis keys', async () => {
    const redis = new Redis(config.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 2 });
    await redis.connect();
    try {
      let n = 0;
      // Read-model keys carry their root in a hash tag: `{<tag>rm}:…` (docs/adr/0020).
      for (const pattern of [`${tag}*`, `{${tag}*`]) {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
          cursor = next;
          if (keys.length) n += await redis.del(...keys);
        } while (cursor !== '0');
      }
      return n;
    } finally {
      redis.disconnect();
    }
  });
  return removed;
}

/**
 * The namespace's settings beyond the test run's (tests/support/test-run.ts): the delivery worker's
 * topic and group, and a web app for the gateway (web/dist when built, else a stand-in in `scratch`).
 */
let webNote = '';
async function benchEnvironment(
  env: Record<string, string>,
  scratch: string,
): Promise<Record<string, string>> {
  const built = join(root, 'web/dist');
  let webRoot = built;
  if (!existsSync(join(built, 'index.html'))) {
    webRoot = join(scratch, 'web');
    await mkdir(webRoot, { recursive: true });
    await writeFile(join(webRoot, 'index.html'), '<!doctype html><title>bench</title>\n');
    webNote = '; web/dist not built: the gateway served a one-file stand-in';
    console.log(`web/dist is not built: the gateway serves a one-file stand-in (${webRoot})`);
  }
  return {
    ...env,
    DELIVERY_EVENTS_TOPIC: `${tag}booking.events`,
    DELIVERY_GROUP: `${tag}delivery`,
    WEB_ROOT: webRoot,
  };
}

async function main(): Promise<void> {
  console.log('building dist/ (npm run build)…');
  const build = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('npm run build failed');

  const startedAt = new Date();
  const load0 = loadavg();
  console.log(`namespace ${tag}: scratch database ${database}`);
  const scratch = await mkdtemp(join(tmpdir(), tag));
  const samples = new Map<string, Sample[]>();
  try {
    const env = await benchEnvironment(runEnvironment(tag, await createDatabase()), scratch);
    for (const service of SERVICES) {
      for (const mode of ['tsx', 'node'] as const) {
        const s = await runOnce(service, mode, env); // warm-up, not counted
        console.log(`  warm-up ${service.name} ${mode}: ready ${fmt(s.readyzMs)} ms`);
      }
    }
    for (let rep = 1; rep <= REPS; rep += 1) {
      for (const service of SERVICES) {
        for (const mode of rep % 2 ? (['tsx', 'node'] as const) : (['node', 'tsx'] as const)) {
          const s = await runOnce(service, mode, env);
          const key = `${service.name}/${mode}`;
          samples.set(key, [...(samples.get(key) ?? []), s]);
          console.log(
            `  #${rep} ${service.name.padEnd(20)} ${mode.padEnd(4)} healthz ${fmt(s.healthzMs).padStart(5)} ms` +
              `  readyz ${fmt(s.readyzMs).padStart(5)} ms  RSS ${fmt(s.rssMb, 1)} MB`,
          );
          await sleep(500);
        }
      }
    }
  } finally {
    console.log(`cleaning up ${tag}…`);
    for (const line of await cleanUp()) console.log(`  removed ${line}`);
    await rm(scratch, { recursive: true, force: true });
  }
  const load1 = loadavg();

  const med = (name: string, mode: Mode, field: keyof Sample) =>
    median((samples.get(`${name}/${mode}`) ?? []).map((s) => s[field]));
  const rows = SERVICES.map(({ name }) => {
    const h = [med(name, 'tsx', 'healthzMs'), med(name, 'node', 'healthzMs')] as const;
    const r = [med(name, 'tsx', 'readyzMs'), med(name, 'node', 'readyzMs')] as const;
    const m = [med(name, 'tsx', 'rssMb'), med(name, 'node', 'rssMb')] as const;
    return (
      `| ${name} | ${fmt(h[0])} | ${fmt(h[1])} | ${ratio(h[1], h[0])} | ${fmt(r[0])} | ${fmt(r[1])} | ` +
      `${ratio(r[1], r[0])} | ${fmt(m[0], 1)} | ${fmt(m[1], 1)} | ${ratio(m[1], m[0])} |`
    );
  });
  const runs = SERVICES.flatMap(({ name }) =>
    (['tsx', 'node'] as const).map((mode) => {
      const list = samples.get(`${name}/${mode}`) ?? [];
      return (
        `| ${name} | ${mode} | ${list.map((s) => fmt(s.healthzMs)).join(' / ')} | ` +
        `${list.map((s) => fmt(s.readyzMs)).join(' / ')} | ${list.map((s) => fmt(s.rssMb, 1)).join(' / ')} |`
      );
    }),
  );
  const cpu = cpus();
  const md = [
    '# Start-up benchmark — tsx (sources) vs node (dist/)',
    '',
    `Generated by \`npm run bench:startup\` on ${startedAt.toISOString()}.`,
    '',
    `- Machine: ${cpu.length} × ${cpu[0]?.model.trim() ?? 'CPU'}; Node ${process.version}; engines (Kafka, Connect, OpenSearch, PostgreSQL, Redis) on the same host`,
    `- tsx: \`node --import tsx <entry>.ts\` (what \`npm start\` spawns); node: \`node dist/<entry>.js\` (what \`npm run start:prod\` spawns, after \`npm run build\`); ${TELEMETRY ? 'both with the OpenTelemetry preload (platform/telemetry-register), as the supervisor starts them' : 'without the OpenTelemetry preload (--no-telemetry)'}`,
    `- Each service alone, ${REPS} repetitions interleaved (tsx/node order alternating) after one unmeasured warm-up run each way; medians. Time from spawn to the first 200 of \`/healthz\` (up and serving) and of \`/readyz\` (dependencies answer, parts started: Kafka group joins included for the projectors); RSS = VmRSS at that first ready answer. Polled every 10 ms. LOG_FORMAT=json, LOG_LEVEL=info`,
    `- Namespace of its own (scratch database, \`bench_startup_<hex>_\` topics, groups, keys, indices; removed afterwards); empty event store and catalog topics${webNote}`,
    `- Host load average before: ${load0.map((x) => x.toFixed(2)).join(', ')}; after: ${load1.map((x) => x.toFixed(2)).join(', ')} (other work on the machine shares the 2 cores)`,
    '',
    '| service | tsx /healthz ms | node /healthz ms | node/tsx | tsx /readyz ms | node /readyz ms | node/tsx | tsx RSS MB | node RSS MB | node/tsx |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    '## Runs',
    '',
    '| service | mode | /healthz ms | /readyz ms | RSS MB |',
    '|---|---|---|---|---|',
    ...runs,
    '',
  ].join('\n');
  if (PARTIAL) {
    console.log(`\n${md}\n(--services: a subset, bench/results/ left as it was)`);
    return;
  }
  await mkdir(new URL('./results/', import.meta.url), { recursive: true });
  const file = `startup${TELEMETRY ? '' : '-no-telemetry'}.md`;
  await writeFile(new URL(`./results/${file}`, import.meta.url), md);
  console.log(`\n${md}\nwrote bench/results/${file}`);
}

await main();
process.exit(0);
