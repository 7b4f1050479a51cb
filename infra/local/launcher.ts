import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { Redis } from 'ioredis';
import {
  ENGINES_HOME,
  paths,
  ports,
  specs,
  START_ORDER,
  zipkinMaxSpans,
  type EngineName,
} from './engine-specs.ts';
import { ensureTopics } from '../../platform/kafka.ts';
import { platformTopics } from '../kafka-topics.ts';
import { preparePostgres } from './postgres-setup.ts';
import { resolveJars } from './resolve-jars.ts';
import {
  localSearchPlan,
  searchNodeConfig,
  startExtraSearchNodes,
  stopExtraSearchNodes,
} from './search-nodes.ts';

type Log = (line: string) => void;

const MARKER = '-Dbooking.engine=';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Processes we started, found by the marker on their command line (survives a lost pid file). */
function findEngineProcesses(): { pid: number; engine: string }[] {
  const found: { pid: number; engine: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const marker = cmdline.find((arg) => arg.startsWith(MARKER));
      if (marker && cmdline[0]?.endsWith('java')) {
        found.push({ pid: Number(entry), engine: marker.slice(MARKER.length) });
      }
    } catch {
      // the process exited while we looked
    }
  }
  return found;
}

const pidOf = (engine: EngineName) => findEngineProcesses().find((p) => p.engine === engine)?.pid;

function memoryOf(pid: number): { rssMiB: number; peakMiB: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return { rssMiB: Math.round(kb('VmRSS') / 1024), peakMiB: Math.round(kb('VmHWM') / 1024) };
  } catch {
    return undefined;
  }
}

async function httpJson(url: string, timeoutMs = 2000): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`${url} -> ${res.status}`);
  return res.json();
}

/** Real readiness: what a client of each engine needs, not an open port. */
const readiness: Record<EngineName, () => Promise<boolean>> = {
  async kafka() {
    const kafka = new Kafka({
      brokers: [`127.0.0.1:${ports.kafka}`],
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1000,
      retry: { retries: 0 },
    });
    const admin = kafka.admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      return cluster.brokers.length > 0 && cluster.controller !== null;
    } catch {
      return false;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  },
  async connect() {
    try {
      const plugins = (await httpJson(`http://127.0.0.1:${ports.connect}/connector-plugins`)) as {
        class: string;
      }[];
      return plugins.some((p) => p.class === 'io.debezium.connector.postgresql.PostgresConnector');
    } catch {
      return false;
    }
  },
  async opensearch() {
    try {
      const health = (await httpJson(`http://127.0.0.1:${ports.opensearch}/_cluster/health`)) as {
        status: string;
      };
      return health.status === 'green' || health.status === 'yellow';
    } catch {
      return false;
    }
  },
  async zipkin() {
    try {
      const health = (await httpJson(`http://127.0.0.1:${ports.zipkin}/health`)) as { status?: string };
      return health.status === 'UP';
    } catch {
      return false;
    }
  },
};

function renderTemplate(file: string, vars: Record<string, string | number>): string {
  return readFileSync(paths.template(file), 'utf8').replace(/\$\{([A-Z_]+)\}/g, (_, key: string) => {
    const value = vars[key];
    if (value === undefined) throw new Error(`template ${file} needs ${key}`);
    return String(value);
  });
}

const classpath = (pom: string) => `${paths.lib(pom)}/*`;

/** Writes config files and returns the JVM arguments for one engine. */
function prepare(engine: EngineName, log: Log, searchNodes = 1): string[] {
  const spec = specs[engine];
  const conf = paths.conf(engine);
  const data = paths.data(engine);
  mkdirSync(conf, { recursive: true });
  mkdirSync(data, { recursive: true });
  const common = [
    `${MARKER}${engine}`,
    ...spec.heap.split(' '),
    '-XX:+UseG1GC',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${paths.template('log4j2.properties')}`,
  ];
  switch (engine) {
    case 'kafka': {
      const props = join(conf, 'server.properties');
      writeFileSync(
        props,
        renderTemplate('kafka.properties', {
          KAFKA_PORT: ports.kafka,
          KAFKA_CONTROLLER_PORT: ports.kafkaController,
          DATA_DIR: data,
        }),
      );
      if (!existsSync(join(data, 'meta.properties'))) {
        // Kafka's Uuid text form: 16 random bytes, base64url without padding.
        const clusterId = randomBytes(16).toString('base64url');
        log(`kafka: formatting KRaft storage (cluster id ${clusterId})`);
        execFileSync(
          'java',
          [
            '-cp',
            classpath('kafka'),
            `-Dlog4j2.configurationFile=${paths.template('log4j2.properties')}`,
            'kafka.tools.StorageTool',
            'format',
            '-t',
            clusterId,
            '-c',
            props,
          ],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
      }
      return [...common, '-cp', classpath('kafka'), spec.mainClass, props];
    }
    case 'connect': {
      // plugin.path holds one directory per plugin: the Debezium connector with its own dependencies.
      const pluginDir = join(paths.plugins, 'debezium-connector-postgres');
      rmSync(pluginDir, { recursive: true, force: true });
      mkdirSync(pluginDir, { recursive: true });
      cpSync(paths.lib('debezium'), pluginDir, { recursive: true });
      const props = join(conf, 'connect-distributed.properties');
      writeFileSync(
        props,
        renderTemplate('connect.properties', {
          KAFKA_PORT: ports.kafka,
          CONNECT_PORT: ports.connect,
          PLUGIN_PATH: paths.plugins,
        }),
      );
      return [...common, '-cp', classpath('connect'), spec.mainClass, props];
    }
    case 'opensearch': {
      // The runner reads node_1/config/opensearch.yml and puts http.port = baseHttpPort + 1.
      const nodeConf = join(data, 'node_1', 'config');
      mkdirSync(nodeConf, { recursive: true });
      // Several search nodes: node 1 of the cluster infra/local/search-nodes.ts plans (ADR 0022).
      const plan = localSearchPlan(searchNodes);
      writeFileSync(
        join(nodeConf, 'opensearch.yml'),
        searchNodes > 1
          ? searchNodeConfig(plan, plan.nodes[0]!)
          : renderTemplate('opensearch.yml', { OPENSEARCH_TRANSPORT_PORT: ports.opensearchTransport }),
      );
      return [
        ...common,
        '-Dopensearch.engine=runner',
        '-cp',
        classpath('opensearch'),
        spec.mainClass,
        '-basePath',
        data,
        '-numOfNode',
        '1',
        '-baseHttpPort',
        String(ports.opensearch - 1),
        '-clusterName',
        'booking-local',
      ];
    }
    case 'zipkin':
      // In-memory storage, nothing on disk: the data dir is only the working directory. Spans past
      // MEM_MAX_SPANS evict the oldest traces; the HTTP collector takes /api/v2/spans on the same port.
      return [
        ...common,
        '-cp',
        classpath('zipkin'),
        spec.mainClass,
        `--server.port=${ports.zipkin}`,
        '--zipkin.storage.type=mem',
        `--zipkin.storage.mem.max-spans=${zipkinMaxSpans}`,
        '--zipkin.collector.kafka.enabled=false',
        '--zipkin.collector.rabbitmq.enabled=false',
        '--zipkin.collector.activemq.enabled=false',
        '--zipkin.collector.pulsar.enabled=false',
      ];
    default: {
      const never: never = engine;
      throw new Error(`unknown engine ${String(never)}`);
    }
  }
}

async function waitReady(engine: EngineName, pid: number, log: Log, timeoutMs: number): Promise<void> {
  const started = Date.now();
  let lastNote = started;
  for (;;) {
    if (await readiness[engine]()) return;
    if (!existsSync(`/proc/${pid}`)) {
      const tail = readFileSync(paths.log(engine), 'utf8').split('\n').slice(-30).join('\n');
      throw new Error(`${engine} exited during start-up; last lines of ${paths.log(engine)}:\n${tail}`);
    }
    if (Date.now() - started > timeoutMs) {
      throw new Error(`${engine} not ready after ${timeoutMs / 1000}s; see ${paths.log(engine)}`);
    }
    if (Date.now() - lastNote > 5000) {
      lastNote = Date.now();
      log(`  ${engine}: starting… ${Math.round((Date.now() - started) / 1000)}s`);
    }
    await sleep(500);
  }
}

export interface StartReport {
  engine: EngineName;
  alreadyRunning: boolean;
  seconds: number;
  downloaded: boolean;
}

async function startEngine(engine: EngineName, log: Log, searchNodes = 1): Promise<StartReport> {
  const t0 = Date.now();
  let downloaded = false;
  for (const pom of specs[engine].poms) downloaded = (await resolveJars(pom, log)).downloaded || downloaded;
  const existing = pidOf(engine);
  if (existing && (await readiness[engine]())) {
    return { engine, alreadyRunning: true, seconds: 0, downloaded };
  }
  if (!existing && (await readiness[engine]())) {
    throw new Error(
      `port ${specs[engine].port} already serves a ${engine} we did not start; stop it or change LOCAL_*_PORT`,
    );
  }
  let pid = existing;
  if (!pid) {
    const args = prepare(engine, log, searchNodes);
    mkdirSync(join(ENGINES_HOME, 'logs'), { recursive: true });
    mkdirSync(join(ENGINES_HOME, 'run'), { recursive: true });
    const out = openSync(paths.log(engine), 'a');
    const child = spawn('java', args, {
      detached: true,
      stdio: ['ignore', out, out],
      cwd: paths.data(engine),
    });
    closeSync(out); // the JVM keeps its own copy of the descriptor
    child.unref();
    pid = child.pid;
    if (!pid) throw new Error(`could not spawn java for ${engine}`);
    writeFileSync(paths.pid(engine), String(pid));
    log(`${engine}: started pid ${pid}, log ${paths.log(engine)}`);
  } else {
    log(`${engine}: pid ${pid} is running but not ready yet; waiting`);
  }
  await waitReady(engine, pid, log, 180_000);
  return { engine, alreadyRunning: false, seconds: (Date.now() - t0) / 1000, downloaded };
}

async function createPlatformTopics(log: Log): Promise<void> {
  const admin = new Kafka({ brokers: [`127.0.0.1:${ports.kafka}`], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const created = await ensureTopics(admin, platformTopics);
    if (created.length > 0) log(`kafka: created topics ${created.join(', ')}`);
  } finally {
    await admin.disconnect();
  }
}

async function checkRedis(log: Log): Promise<void> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000 });
  try {
    await redis.connect();
    await redis.ping();
    // The read models are rebuilt from the event log when lost, but a rebuild takes time: keep
    // them across a Redis restart. The machine's Redis starts with `appendonly no`; switch the
    // running server to append-only (fsync every second). CONFIG REWRITE persists it when the
    // server has a config file it may write; otherwise it holds until that Redis restarts.
    const [, appendonly] = (await redis.config('GET', 'appendonly')) as [string, string];
    if (appendonly !== 'yes') {
      await redis.config('SET', 'appendonly', 'yes');
      await redis.config('SET', 'appendfsync', 'everysec');
      const persisted = await redis.config('REWRITE').then(
        () => 'and its config file',
        () => 'until it restarts (no writable config file)',
      );
      log(`redis: append-only persistence switched on (CONFIG SET appendonly yes) ${persisted}`);
    }
    log(`redis: ready at ${url}`);
  } finally {
    redis.disconnect();
  }
}

/**
 * Brings every engine up (idempotent) and returns how long each took. `platformData: false` (the
 * test run) starts the engines only: no `booking` database, no platform topics.
 */
export async function up(
  log: Log = console.log,
  only: EngineName[] = START_ORDER,
  { platformData = true, searchNodes = 1 }: { platformData?: boolean; searchNodes?: number } = {},
): Promise<StartReport[]> {
  await preparePostgres(log, platformData ? {} : { database: null });
  await checkRedis(log);
  const reports: StartReport[] = [];
  // Kafka, OpenSearch and Zipkin start side by side; Connect needs Kafka.
  const first = only.filter((e) => e !== 'connect');
  reports.push(...(await Promise.all(first.map((e) => startEngine(e, log, searchNodes)))));
  if (only.includes('opensearch')) await startExtraSearchNodes(searchNodes, log);
  if (only.includes('kafka') && platformData) await createPlatformTopics(log);
  if (only.includes('connect')) reports.push(await startEngine('connect', log));
  for (const r of reports) {
    const spec = specs[r.engine];
    const state = r.alreadyRunning
      ? 'already running'
      : `ready in ${r.seconds.toFixed(1)}s${r.downloaded ? ' (with downloads)' : ''}`;
    log(`✔ ${spec.describe} — ${state}; log ${paths.log(r.engine)}`);
  }
  return reports;
}

export async function allReady(): Promise<boolean> {
  const results = await Promise.all(START_ORDER.map((e) => readiness[e]()));
  return results.every(Boolean);
}

/** Stops every JVM we started (newest dependency first), SIGKILL after a grace period. */
export async function down(log: Log = console.log, graceMs = 30_000): Promise<void> {
  await stopExtraSearchNodes(log, graceMs);
  for (const engine of ['connect', 'zipkin', 'opensearch', 'kafka'] as const) {
    const procs = findEngineProcesses().filter((p) => p.engine === engine);
    for (const { pid } of procs) {
      log(`${engine}: stopping pid ${pid}…`);
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        continue;
      }
      const deadline = Date.now() + graceMs;
      while (existsSync(`/proc/${pid}`) && Date.now() < deadline) await sleep(200);
      if (existsSync(`/proc/${pid}`)) {
        log(`${engine}: pid ${pid} ignored SIGTERM for ${graceMs / 1000}s; killing`);
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // it exited between the check and the kill
        }
      }
    }
    rmSync(paths.pid(engine), { force: true });
  }
  const left = findEngineProcesses();
  if (left.length > 0) throw new Error(`JVMs still running: ${JSON.stringify(left)}`);
  log('all engines stopped; no engine JVM left');
}

export interface EngineStatus {
  engine: EngineName;
  pid: number | undefined;
  ready: boolean;
  rssMiB?: number;
  peakMiB?: number;
  where: string;
  log: string;
}

export async function status(): Promise<EngineStatus[]> {
  return Promise.all(
    START_ORDER.map(async (engine) => {
      const pid = pidOf(engine);
      const mem = pid ? memoryOf(pid) : undefined;
      return {
        engine,
        pid,
        ready: await readiness[engine](),
        ...(mem ?? {}),
        where: specs[engine].describe,
        log: paths.log(engine),
      };
    }),
  );
}
