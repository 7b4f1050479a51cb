import { describe, expect, it } from 'vitest';
import {
  argValue,
  gatewayEnv,
  parseCanaries,
  parseInstances,
  planInstances,
  type ServiceSpec,
} from '../../supervisor/instances.ts';

const services: ServiceSpec[] = [
  { name: 'command-api', entry: 'command-api/main.ts', port: 3001 },
  { name: 'catalog-projections', entry: 'c.ts', port: 3004, portEnv: 'CATALOG_PROJECTIONS_PORT' },
  { name: 'query-api', entry: 'query-api/main.ts', port: 3002 },
  { name: 'gateway', entry: 'gateway/main.ts', port: 3005 },
];
const known = services.map((s) => s.name);
const versions = { stable: '1.4.0', canary: '1.5.0' };

describe('supervisor instances', () => {
  it('parses --instances and --canary, naming what is wrong', () => {
    expect(parseInstances('query-api=2, command-api=3', known)).toEqual({ 'query-api': 2, 'command-api': 3 });
    expect(parseInstances('', known)).toEqual({});
    expect(parseInstances('search=2', known)).toMatch(/unknown service "search"/);
    expect(parseInstances('query-api=0', known)).toMatch(/query-api: expected 1 to 9/);
    expect(parseCanaries('query-api=../v2,command-api', known)).toEqual({
      'query-api': '../v2',
      'command-api': '',
    });
    expect(argValue(['--instances', 'a=2'], 'instances')).toBe('a=2');
    expect(argValue(['--canary=query-api'], 'canary')).toBe('query-api');
    expect(argValue([], 'canary')).toBeUndefined();
  });

  it('gives instance k the port P + 10k, the canary P + 100, each with its version', () => {
    const plan = planInstances(
      services,
      { 'query-api': 2, 'catalog-projections': 2 },
      { 'query-api': '../v2' },
      versions,
    );
    expect(plan.map((i) => [i.name, i.port, i.track])).toEqual([
      ['command-api', 3001, 'stable'],
      ['catalog-projections', 3004, 'stable'],
      ['catalog-projections#2', 3014, 'stable'],
      ['query-api', 3002, 'stable'],
      ['query-api#2', 3012, 'stable'],
      ['query-api@canary', 3102, 'canary'],
      ['gateway', 3005, 'stable'],
    ]);
    expect(plan[0]!.env).toEqual({ SERVICE_VERSION: '1.4.0' });
    expect(plan[2]!.env).toEqual({ CATALOG_PROJECTIONS_PORT: '3014', SERVICE_VERSION: '1.4.0' });
    expect(plan[5]).toMatchObject({ root: '../v2', env: { PORT: '3102', SERVICE_VERSION: '1.5.0' } });
  });

  it('tells the gateway every API instance, by track, and every /metrics', () => {
    const plan = planInstances(services, { 'command-api': 2 }, { 'query-api': '' }, versions);
    const env = gatewayEnv(plan, (p) => `http://h:${p}`, versions);
    expect(env).toMatchObject({
      COMMAND_API_URLS: 'http://h:3001,http://h:3011',
      QUERY_API_URLS: 'http://h:3002',
      QUERY_API_CANARY_URLS: 'http://h:3102',
      RELEASE_CANARY_VERSION: '1.5.0',
    });
    expect(env.COMMAND_API_CANARY_URLS).toBeUndefined();
    expect(env.OPS_METRICS_TARGETS).toContain('command-api#2=http://h:4011');
    expect(env.OPS_METRICS_TARGETS).not.toContain('gateway');
  });
});
