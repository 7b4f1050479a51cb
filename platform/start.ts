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
import { seedIfEmpty } from '../infra/seed/seed.ts';
import { loadConfig } from './config.ts';
import { createLogger } from './logger.ts';

const config = loadConfig();
const log = createLogger('platform');
const root = fileURLToPath(new URL('..', import.meta.url));
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
  { name: 'projections', entry: 'projections/main.ts', healthUrl: 'http://127.0.0.1:3003/healthz' },
  {
    name: 'catalog-projections',
    entry: 'projections/catalog/main.ts',
    healthUrl: 'http://127.0.0.1:3004/healthz',
  },
  {
    name: 'query-api',
    entry: 'query-api/main.ts',
    healthUrl: `http://127.0.0.1:${config.QUERY_API_PORT}/healthz`,
  },
];

const children = new Map<string, ChildProcess>();
let stopping = false;

function startService(spec: ServiceSpec): void {
  const child = spawn(process.execPath, ['--import', 'tsx', spec.entry], {
    cwd: root,
    env: { ...process.env, PORT: '' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.set(spec.name, child);
  child.on('exit', (code, signal) => {
    children.delete(spec.name);
    if (stopping) return;
    log.error({ component: spec.name, code, signal }, 'service exited; restarting in 2s');
    setTimeout(() => !stopping && startService(spec), 2000);
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
    const res = await fetch(spec.healthUrl, { signal: AbortSignal.timeout(1000) });
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
    if (existsSync(new URL(`../${spec.entry}`, import.meta.url))) startService(spec);
    else log.warn({ component: spec.name }, `${spec.entry} not present; not started`);
  }

  const server = createServer((req, res) => {
    if (req.url !== '/healthz') {
      res.writeHead(404).end();
      return;
    }
    void (async () => {
      const [engines, svc] = await Promise.all([status(), Promise.all(services.map(serviceHealth))]);
      const started = svc.filter((s) => s.running);
      const ok = engines.every((e) => e.ready) && started.every((s) => s.healthy !== false);
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
    const deadline = setTimeout(() => process.exit(0), 15_000);
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
}

main().catch((err: unknown) => {
  log.fatal({ err }, 'platform failed to start');
  process.exit(1);
});
