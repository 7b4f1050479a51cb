// `npm start`: the whole platform on one machine. Brings the engines up (idempotent), migrates,
// prepares data, then runs every service as a child process and serves an aggregate health
// endpoint. Ctrl-C stops the services; the engines keep running until `npm run engines -- down`.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type RequestListener } from 'node:http';
import { relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { catalogConnector, catalogConnectorSettings } from '../connectors/catalog-connector.ts';
import { ConnectClient } from '../connectors/connect-client.ts';
import { status, up, type EngineStatus } from '../infra/local/launcher.ts';
import { migrate } from '../infra/migrate.ts';
import { loadDeliverySettings } from '../delivery/config.ts';
import { loadCatalogProjectionConfig } from '../projections/catalog/config.ts';
import { loadProjectionsConfig } from '../projections/config.ts';
import { seedIfEmpty } from '../infra/seed/seed.ts';
import { loadConfig } from '../platform/config.ts';
import { defaultAdminPort } from '../platform/http/admin.ts';
import { createLogger, logFormat } from '../platform/logger.ts';
import {
  argValue,
  gatewayEnv,
  parseCanaries,
  parseInstances,
  planInstances,
  type InstanceSpec,
  type ServiceSpec,
} from './instances.ts';
import { afterProbe, probeService, type ServiceProbe } from './watchdog.ts';

const config = loadConfig();
const log = createLogger('platform');
const root = fileURLToPath(new URL('..', import.meta.url));
// Run from the build (`node dist/supervisor/main.js`, `npm run start:prod`), the services run on
// plain node from dist/; run from the sources (`npm start`), under tsx.
const compiled = import.meta.url.endsWith('.js');
const entryFile = (entry: string) => (compiled ? entry.replace(/\.ts$/, '.js') : entry);
const telemetryPreload = new URL(`../platform/telemetry-register.${compiled ? 'js' : 'ts'}`, import.meta.url)
  .href;
const platformPort = Number(process.env.PLATFORM_PORT ?? 3000);
/** The aggregate's detail (engines with pids and RSS, services with their probes) answers here only. */
const platformAdminPort = defaultAdminPort(platformPort, config.ADMIN_PORT);
// The services listen on HOST; a wildcard address is reached over loopback.
const serviceHost = ['0.0.0.0', '::'].includes(config.HOST) ? '127.0.0.1' : config.HOST;
const urlHost = serviceHost.includes(':') ? `[${serviceHost}]` : serviceHost;

/** Services in start order; an entry whose file is absent is reported, not started. */
const services: ServiceSpec[] = [
  { name: 'command-api', entry: 'command-api/main.ts', port: config.COMMAND_API_PORT },
  { name: 'projections', entry: 'projections/main.ts', port: loadProjectionsConfig().PROJECTIONS_PORT },
  {
    name: 'catalog-projections',
    entry: 'projections/catalog/main.ts',
    port: loadCatalogProjectionConfig().CATALOG_PROJECTIONS_PORT,
    portEnv: 'CATALOG_PROJECTIONS_PORT',
  },
  { name: 'query-api', entry: 'query-api/main.ts', port: config.QUERY_API_PORT },
  { name: 'notifications', entry: 'notifications/main.ts', port: config.NOTIFICATIONS_PORT },
  // One origin for the web app and both APIs (docs/adr/0018): http://127.0.0.1:3005/.
  { name: 'gateway', entry: 'gateway/main.ts', port: Number(process.env.GATEWAY_PORT ?? 3005) },
  { name: 'delivery', entry: 'delivery/main.ts', port: loadDeliverySettings().DELIVERY_PORT },
  // Booking rush (docs/adr/0015): probed like the others (a crashed consumer fails its liveness).
  { name: 'request-processor', entry: 'requests/main.ts', port: config.REQUEST_PROCESSOR_PORT },
];

/**
 * Several instances per service and a canary build beside them (docs/adr/0021, instances.ts):
 * `--instances query-api=2,command-api=2` or INSTANCES; `--canary query-api[=<checkout>]` or CANARIES.
 */
function instancePlan(): InstanceSpec[] {
  const known = services.map((s) => s.name);
  const fail = (why: string): never => {
    log.fatal(why);
    process.exit(1);
  };
  const counts = parseInstances(argValue(process.argv, 'instances') ?? process.env.INSTANCES ?? '', known);
  if (typeof counts === 'string') return fail(`--instances: ${counts}`);
  if ((counts.gateway ?? 1) > 1) return fail('--instances: the gateway runs as one instance');
  const canaries = parseCanaries(argValue(process.argv, 'canary') ?? process.env.CANARIES ?? '', known);
  if (typeof canaries === 'string') return fail(`--canary: ${canaries}`);
  return planInstances(services, counts, canaries, versions);
}

const versions = {
  stable: process.env.RELEASE_STABLE_VERSION || 'stable',
  canary: process.env.RELEASE_CANARY_VERSION || 'canary',
};
const urlOf = (port: number) => `http://${urlHost}:${port}`;
const plan = instancePlan();

const children = new Map<string, ChildProcess>();
/** The last probe of each service and its consecutive liveness failures (watchdog.ts). */
const watch = new Map<string, { probe?: ServiceProbe; failures: number; startedAt: number }>();
let engines: EngineStatus[] = [];
const expected = new Set<string>();
const restarts = new Map<string, number>();
let stopping = false;

function startService(spec: InstanceSpec): void {
  expected.add(spec.name);
  const startedAt = Date.now();
  const cwd = spec.root ? resolve(root, spec.root) : root;
  // The telemetry preload (OpenTelemetry, platform/telemetry.ts) starts before the entry loads; a
  // canary from another checkout runs that checkout's own preload.
  const preload = spec.root
    ? pathToFileURL(resolve(cwd, relative(root, fileURLToPath(telemetryPreload)))).href
    : telemetryPreload;
  const args = compiled
    ? ['--import', preload, entryFile(spec.entry)]
    : ['--import', 'tsx', '--import', preload, spec.entry];
  const child = spawn(process.execPath, args, {
    cwd,
    // Children write to this process's stdout, in the format it chose (LOG_FORMAT, else pretty
    // on a terminal from the sources, JSON from the build), so all lines look alike.
    // PORT and ADMIN_PORT name one service's ports: each child takes its own defaults instead,
    // unless it is a second instance (its own port) or the gateway (every instance's URL).
    env: {
      ...process.env,
      PORT: '',
      ADMIN_PORT: '',
      LOG_FORMAT: logFormat(),
      ...(spec.service === 'gateway' ? gatewayEnv(plan, urlOf, versions) : {}),
      ...spec.env,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
    // Its own process group: a Ctrl-C reaches only this supervisor, which stops each service with
    // one SIGTERM so it drains (a second signal would make it exit at once).
    detached: true,
  });
  children.set(spec.name, child);
  watch.set(spec.name, { failures: 0, startedAt });
  child.on('exit', (code, signal) => {
    children.delete(spec.name);
    watch.delete(spec.name);
    if (stopping) return;
    // A first crash restarts at once (every second of it is a second the read side is stale);
    // one that keeps crashing backs off (1 s doubling to 30 s); a run of a minute resets it.
    const previous = Date.now() - startedAt > 60_000 ? 0 : (restarts.get(spec.name) ?? 0);
    restarts.set(spec.name, previous + 1);
    const delayMs = previous === 0 ? 0 : Math.min(30_000, 1000 * 2 ** (previous - 1));
    log.error({ component: spec.name, code, signal, delayMs }, 'service exited; restarting');
    setTimeout(() => !stopping && startService(spec), delayMs);
  });
  log.info({ component: spec.name, pid: child.pid }, 'service started');
}

/** Registers (or updates) the catalog's Debezium connector: PUT is idempotent. */
async function applyCatalogConnector(): Promise<void> {
  const connect = new ConnectClient(config.KAFKA_CONNECT_URL);
  const { name, config: connectorConfig } = catalogConnector(catalogConnectorSettings(config));
  const { created } = await connect.apply(name, connectorConfig);
  await connect.waitRunning(name, 120_000);
  log.info({ connector: name }, created ? 'catalog connector created' : 'catalog connector up to date');
}

/** Probes one running service; kills it (the exit handler restarts it) when it asks to be restarted. */
async function watchService(spec: InstanceSpec): Promise<void> {
  const state = watch.get(spec.name);
  const child = children.get(spec.name);
  // A catalog projection without a health server (CATALOG_PROJECTIONS_PORT=0) is not probed.
  if (spec.port === 0 || !state || !child) return;
  const probe = await probeService(urlOf(spec.port));
  const next = afterProbe(state.failures, probe, Date.now() - state.startedAt);
  Object.assign(state, { probe, failures: next.failures });
  if (next.restart && children.get(spec.name) === child) {
    log.error({ component: spec.name, reasons: probe.reasons }, 'service not live; killing it for a restart');
    child.kill('SIGKILL');
  }
}

/** Probes services and engines every few seconds, so health answers come from memory at once. */
function startWatching(): NodeJS.Timeout {
  const round = async () => {
    await Promise.all([...plan.map(watchService), status().then((e) => (engines = e))]);
  };
  void round();
  return setInterval(() => void round().catch(() => undefined), 5000);
}

/** The platform's health, from the last probes: a service down or not live → 503. */
function platformHealth(): { statusCode: number; body: Record<string, unknown> } {
  const svc = plan.map((spec) => {
    const state = watch.get(spec.name);
    const running = children.has(spec.name);
    const pid = children.get(spec.name)?.pid;
    const { name, port, track } = spec;
    const version = spec.env.SERVICE_VERSION;
    return { name, port, track, version, running, pid, restarts: restarts.get(name) ?? 0, ...state?.probe };
  });
  const down = svc.filter((s) => expected.has(s.name) && (!s.running || s.live === 'failing'));
  const reasons = [
    ...engines.filter((e) => !e.ready).map((e) => `${e.engine}: not ready`),
    ...svc.flatMap((s) => (s.reasons ?? []).map((r) => `${s.name}: ${r}`)),
    ...down.map((s) => `${s.name}: ${s.running ? 'not live' : 'not running'}`),
  ];
  const ready = down.length === 0 && svc.every((s) => s.ready === true) && engines.every((e) => e.ready);
  const status = down.length > 0 ? 'failing' : reasons.length > 0 ? 'degraded' : 'ok';
  return {
    statusCode: down.length > 0 ? 503 : 200,
    body: { status, ready, reasons, engines, services: svc },
  };
}

/** /healthz and /readyz of the aggregate: status and reasons in public, everything on the admin port. */
function healthHandler(detailed: boolean): RequestListener {
  return (req, res) => {
    const health = platformHealth();
    const { status, reasons } = health.body;
    const body = detailed ? health.body : { status, reasons };
    const answer = (statusCode: number) =>
      res.writeHead(statusCode, { 'content-type': 'application/json' }).end(JSON.stringify(body, null, 2));
    if (req.url === '/healthz') answer(health.statusCode);
    else if (req.url === '/readyz') answer(health.body.ready ? 200 : 503);
    else res.writeHead(404).end();
  };
}

/** From the sources, the gateway's web app is (re)built when stale; a build ships its web/dist. */
async function buildWebApp(): Promise<void> {
  if (compiled) return;
  const { ensureWebBuilt } = await import('../web/build/ensure-built.ts');
  await ensureWebBuilt((line) => log.info(line)).catch((err: unknown) =>
    log.error({ err }, 'web app build failed; the gateway serves the APIs only'),
  );
}

async function main(): Promise<void> {
  await up((line) => log.info(line));
  await migrate(config.DATABASE_URL, (line) => log.info(line));
  await seedIfEmpty(config.DATABASE_URL, { log: (line) => log.info(line) });
  await applyCatalogConnector();
  await buildWebApp();

  for (const spec of plan) {
    const from = spec.root ? resolve(root, spec.root) : root;
    if (existsSync(resolve(from, entryFile(spec.entry)))) startService(spec);
    else log.warn({ component: spec.name }, `${spec.entry} not present in ${from}; not started`);
  }

  const watching = startWatching();
  const server = createServer(healthHandler(false));
  server.listen(platformPort, config.HOST, () => {
    log.info(
      `platform health at http://${urlHost}:${platformPort}/healthz (detail on :${platformAdminPort})`,
    );
  });
  const adminServer = createServer(healthHandler(true));
  adminServer.listen(platformAdminPort, config.HOST);

  const stop = () => {
    if (stopping) return;
    stopping = true;
    clearInterval(watching);
    log.info('stopping services (engines keep running: `npm run engines -- down` stops them)');
    server.close();
    adminServer.close();
    for (const child of children.values()) child.kill('SIGTERM');
    const deadline = setTimeout(() => {
      for (const [name, child] of children) {
        log.warn({ component: name }, 'service did not stop in 15 s; killing it');
        child.kill('SIGKILL');
      }
      process.exit(1);
    }, 15_000);
    deadline.unref();
    const check = setInterval(() => {
      if (children.size === 0) {
        clearInterval(check);
        process.exit(0);
      }
    }, 100);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // Detached children outlive an abrupt exit of the supervisor unless it takes them along.
  process.on('exit', () => {
    for (const child of children.values()) child.kill('SIGKILL');
  });
}

main().catch((err: unknown) => {
  log.fatal({ err }, 'platform failed to start');
  process.exit(1);
});
