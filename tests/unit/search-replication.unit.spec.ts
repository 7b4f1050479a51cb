import { describe, expect, it } from 'vitest';
import { searchClusterPlan, searchNodeConfig } from '../../infra/local/search-nodes.ts';
import { parseConfig } from '../../platform/config.ts';
import { indexLayoutOf, searchUrlsOf } from '../../platform/search/index.ts';
import { withLayout } from '../../platform/search/index-layout.ts';
import { withNodeFailover } from '../../platform/search/node-failover.ts';
import type { RawRequest, RawTransport } from '../../platform/search/raw-transport.ts';

const definition = {
  settings: { number_of_shards: 1, number_of_replicas: 0, refresh_interval: '1s', analysis: { x: 1 } },
  mappings: { properties: {} },
};

describe('index layout', () => {
  it('replaces shards, replicas and refresh, keeps the rest of the definition', () => {
    const laid = withLayout(definition, { shards: 3, replicas: 1, refreshInterval: '30s' });
    expect(laid.settings).toEqual({
      number_of_shards: 3,
      number_of_replicas: 1,
      auto_expand_replicas: 'false',
      refresh_interval: '30s',
      analysis: { x: 1 },
    });
    expect(laid.mappings).toBe(definition.mappings);
  });

  it('auto replicas: 0-1 auto-expansion instead of a count, so one node stays green', () => {
    expect(withLayout(definition, { replicas: 'auto' }).settings).toEqual({
      number_of_shards: 1,
      refresh_interval: '1s',
      analysis: { x: 1 },
      auto_expand_replicas: '0-1',
    });
  });

  it('drops the index.-prefixed spelling of a replaced setting', () => {
    const def = { settings: { 'index.number_of_replicas': 2 }, mappings: {} };
    expect(withLayout(def, { replicas: 0 }).settings).toEqual({
      number_of_replicas: 0,
      auto_expand_replicas: 'false',
    });
  });

  it('no layout, or an empty one: the definition as written', () => {
    expect(withLayout(definition, undefined)).toBe(definition);
    expect(withLayout(definition, {}).settings).toEqual(definition.settings);
  });

  it('comes from SEARCH_SHARDS / SEARCH_REPLICAS / SEARCH_REFRESH_INTERVAL, replicas auto by default', () => {
    const defaults = parseConfig({});
    const set = parseConfig({ SEARCH_SHARDS: '2', SEARCH_REPLICAS: '1', SEARCH_REFRESH_INTERVAL: '30s' });
    if (!defaults.ok || !set.ok) throw new Error('config did not parse');
    expect(indexLayoutOf(defaults.config)).toEqual({
      shards: undefined,
      replicas: 'auto',
      refreshInterval: undefined,
    });
    expect(indexLayoutOf(set.config)).toEqual({ shards: 2, replicas: 1, refreshInterval: '30s' });
    const bad = parseConfig({ SEARCH_REPLICAS: 'two', SEARCH_REFRESH_INTERVAL: '1 s', SEARCH_SHARDS: '0' });
    expect(bad.ok ? [] : bad.errors.map((e) => e.split('=')[0])).toEqual([
      'SEARCH_SHARDS',
      'SEARCH_REPLICAS',
      'SEARCH_REFRESH_INTERVAL',
    ]);
  });
});

describe('search nodes', () => {
  it('SEARCH_URLS (comma-separated) replaces SEARCH_URL', () => {
    const one = parseConfig({ SEARCH_URL: 'http://a:9200' });
    const two = parseConfig({ SEARCH_URL: 'http://a:9200', SEARCH_URLS: 'http://a:9200, http://b:9200' });
    if (!one.ok || !two.ok) throw new Error('config did not parse');
    expect(searchUrlsOf(one.config)).toEqual(['http://a:9200']);
    expect(searchUrlsOf(two.config)).toEqual(['http://a:9200', 'http://b:9200']);
    expect(parseConfig({ SEARCH_URLS: 'http://a:9200,ftp://b' }).ok).toBe(false);
  });

  /** A transport whose first `failures` calls throw `err`; records what was sent. */
  function flaky(err: Record<string, unknown>, failures: number) {
    const sent: RawRequest[] = [];
    const transport: RawTransport = {
      kind: 'opensearch',
      request: async (req) => {
        sent.push(req);
        if (sent.length <= failures) throw Object.assign(new Error('boom'), err);
        return { status: 200, body: {} };
      },
      close: async () => undefined,
    };
    return { sent, transport };
  }
  const search: RawRequest = { method: 'POST', path: '/institutions/_search', body: {} };
  const bulk: RawRequest = { method: 'POST', path: '/_bulk', bulkBody: [] };

  it('sends a request that could not reach its node to the next one, once per other node', async () => {
    const { sent, transport } = flaky({ name: 'ConnectionError' }, 1);
    await expect(withNodeFailover(transport, 2).request(bulk)).resolves.toEqual({ status: 200, body: {} });
    expect(sent).toHaveLength(2);
    const down = flaky({ name: 'ConnectionError' }, 5);
    await expect(withNodeFailover(down.transport, 2).request(search)).rejects.toThrow('boom');
    expect(down.sent).toHaveLength(2);
  });

  it('resends a read a node answered 503, not a write, and never a timeout', async () => {
    const read = flaky({ name: 'ResponseError', meta: { statusCode: 503 } }, 1);
    await withNodeFailover(read.transport, 2).request(search);
    expect(read.sent).toHaveLength(2);
    const write = flaky({ name: 'ResponseError', meta: { statusCode: 503 } }, 1);
    await expect(withNodeFailover(write.transport, 2).request(bulk)).rejects.toThrow('boom');
    expect(write.sent).toHaveLength(1);
    const slow = flaky({ name: 'TimeoutError' }, 1);
    await expect(withNodeFailover(slow.transport, 2).request(search)).rejects.toThrow('boom');
    expect(slow.sent).toHaveLength(1);
  });

  it('one node: the transport as it is', () => {
    const { transport } = flaky({}, 0);
    expect(withNodeFailover(transport, 1)).toBe(transport);
  });
});

describe('local search cluster plan', () => {
  const plan = (count: number) =>
    searchClusterPlan({
      count,
      clusterName: 'c',
      httpPort: 9211,
      transportPort: 9311,
      dataDir: (n) => `/tmp/d${n}`,
      log: (n) => `/tmp/l${n}`,
      marker: (n) => `-Dm=${n}`,
    });

  it('one node: single-node discovery, as the engines always ran', () => {
    const p = plan(1);
    expect(searchNodeConfig(p, p.nodes[0]!)).toContain('discovery.type: single-node');
  });

  it('two nodes: own ports, seeds on every transport port, node 1 alone bootstraps', () => {
    const p = plan(2);
    expect(p.nodes.map((n) => [n.httpPort, n.transportPort, n.dataDir])).toEqual([
      [9211, 9311, '/tmp/d1'],
      [9212, 9312, '/tmp/d2'],
    ]);
    const yml = searchNodeConfig(p, p.nodes[1]!);
    expect(yml).toContain('transport.port: 9312');
    expect(yml).toContain('discovery.seed_hosts: ["127.0.0.1:9311", "127.0.0.1:9312"]');
    expect(yml).toContain('cluster.initial_cluster_manager_nodes: ["127.0.0.1:9311"]');
    expect(yml).not.toContain('single-node');
  });
});
