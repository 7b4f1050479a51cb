// `npm start`: the whole platform on one machine. Brings the engines up (idempotent), migrates,
// prepares data, then runs every service as a child process and serves an aggregate health
// endpoint. Ctrl-C stops the services; the engines keep running until `npm run engines -- down`.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { catalogConnector, catalogConnectorSettings } from '../connectors/catalog-connector.ts';
import { ConnectClient } from '../connectors/connect-client.ts';
import { status, up } from '../infra/local/launcher.ts';
import { migrate } from '../infra/migrate.ts';
import { loadCatalogProjectionConfig } from '../projections/catalog/config.ts';
import { loadProjectionsConfig } from '../projections/config.ts';
import { seedIfEmpty } from '../infra/seed/seed.ts';
import { loadConfig } from '../platform/config.ts';
import { createLogger, logFormat } from '../platform/logger.ts';

const config = loadConfig();
const log = createLogger('platform');
const root = fileURLToPath(new URL('..', import.meta.url));
// Run from the build (`node dist/supervisor/main.js`, `npm run start:prod`), the services run on
// plain node from dist/; run from the sources (`npm start`), under tsx.
const compiled = import.meta.url.endsWith('.js');
const entryFile = (entry: string) => (compiled ? entry.replace(/\.ts$/, '.js') : entry);
const platformPort = Number(process.env.PLATFORM_PORT ?? 3000);

interface ServiceSpec {
  name: string;
  entry: string;
  healthUrl?: string;
}

/** Services in start order; an entry whose file is absent is reported, not started. */
const services: ServiceSpec[] = [
  {
    name: 'command-api',
    entry: 'command-api/main.ts',
    healthUrl: `http://127.0.0.1:${config.COMMAND_API_PORT}/healthz`,
  },
  {
    name: 'projections',
    entry: 'projections/main.ts',
    healthUrl: `http://127.0.0.1:${loadProjectionsConfig().PROJECTIONS_PORT}/healthz`,
  },
  {
    name: 'catalog-projections',
    entry: 'projections/catalog/main.ts',
    healthUrl: `http://127.0.0.1:${loadCatalogProjectionConfig().CATALOG_PROJECTIONS_PORT}/healthz`,
  },
  {
    name: 'query-api',
    entry: 'query-api/main.ts',
    healthUrl: `http://127.0.0.1:${config.QUERY_API_PORT}/healthz`,
  },
];

const children = new Map<string, ChildProcess>();
const expected = new Set<string>();
const restarts = new Map<string, number>();
let stopping = false;

function startService(spec: ServiceSpec): void {
  expected.add(spec.name);
  const startedAt = Date.now();
  const args = compiled ? [entryFile(spec.entry)] : ['--import', 'tsx', spec.entry];
  const child = spawn(process.execPath, args, {
    cwd: root,
    // Children write to this process's stdout, in the format it chose (LOG_FORMAT, else pretty
    // on a terminal from the sources, JSON from the build), so all lines look alike.
    env: { ...process.env, PORT: '', LOG_FORMAT: logFormat() },
    stdio: ['ignore', 'inherit', 'inherit'],
    // Its own process group: a Ctrl-C reaches only this supervisor, which stops each service with
    // one SIGTERM so it drains (a second signal would make it exit at once).
    detached: true,
  });
  children.set(spec.name, child);
  child.on('exit', (code, signal) => {
    children.delete(spec.name);
    if (stopping) return;
    // Back off while it keeps crashing (1 s doubling to 30 s); a run of a minute resets it.
    const previous = Date.now() - startedAt > 60_000 ? 0 : (restarts.get(spec.name) ?? 0);
    restarts.set(spec.name, previous + 1);
    const delayMs = Math.min(30_000, 1000 * 2 ** previous);
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

async function serviceHealth(
  spec: ServiceSpec,
): Promise<{ name: string; running: boolean; healthy?: boolean }> {
  const running = children.has(spec.name);
  if (!spec.healthUrl || !running) return { name: spec.name, running };
  try {
    const res = await fetch(spec.healthUrl, { signal: AbortSignal.timeout(3000) });
    return { name: spec.name, running, healthy: res.ok };
  } catch {
    return { name: spec.name, running, healthy: false };
  }
}

async function main(): Promise<void> {
  await up((line) => log.info(line));
  await migrate(config.DATABASE_URL, (line) => log.info(line));
  await seedIfEmpty(config.DATABASE_URL, { log: (line) => log.info(line) });
  await applyCatalogConnector();

  for (const spec of services) {
    if (existsSync(new URL(`../${entryFile(spec.entry)}`, import.meta.url))) startService(spec);
    else log.warn({ component: spec.name }, `${spec.entry} not present; not started`);
  }

  const server = createServer((req, res) => {
    if (req.url !== '/healthz') {
      res.writeHead(404).end();
      return;
    }
    void (async () => {
      const [engines, svc] = await Promise.all([status(), Promise.all(services.map(serviceHealth))]);
      // A service that should run but is down (crashed, waiting to restart) makes the platform degraded.
      const ok =
        engines.every((e) => e.ready) &&
        svc.every((s) => !expected.has(s.name) || (s.running && s.healthy !== false));
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: ok ? 'ok' : 'degraded', engines, services: svc }, null, 2));
    })();
  });
  server.listen(platformPort, '127.0.0.1', () => {
    log.info(`platform health at http://127.0.0.1:${platformPort}/healthz`);
  });

  const stop = () => {
    if (stopping) return;
    stopping = true;
    log.info('stopping services (engines keep running: `npm run engines -- down` stops them)');
    server.close();
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
