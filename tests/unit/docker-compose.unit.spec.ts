import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../../platform/config.ts';

interface Service {
  image: string;
  command?: string[];
  environment?: Record<string, string | number>;
  ports?: string[];
  profiles?: string[];
  healthcheck?: { test: string[] };
}

const compose = parse(readFileSync(new URL('../../infra/docker-compose.yml', import.meta.url), 'utf8')) as {
  services: Record<string, Service>;
};
const services = compose.services;
const hostPorts = (s: Service) => (s.ports ?? []).map((p) => Number(p.split(':')[0]));

describe('infra/docker-compose.yml', () => {
  it('declares every engine from its official image, each with a health check', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['connect', 'elasticsearch', 'kafka', 'opensearch', 'postgres', 'redis'].sort(),
    );
    expect(services.postgres!.image).toMatch(/^postgres:\d+/);
    expect(services.redis!.image).toMatch(/^redis:\d+/);
    expect(services.kafka!.image).toMatch(/^apache\/kafka:[34]\./);
    expect(services.connect!.image).toMatch(/^quay\.io\/debezium\/connect:/);
    expect(services.elasticsearch!.image).toMatch(/^docker\.elastic\.co\/elasticsearch\/elasticsearch:8\./);
    expect(services.opensearch!.image).toMatch(/^opensearchproject\/opensearch:2\./);
    for (const [name, service] of Object.entries(services)) {
      expect(service.healthcheck?.test, `${name} health check`).toBeDefined();
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
});
