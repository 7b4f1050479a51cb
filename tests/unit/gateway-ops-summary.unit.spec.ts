import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { p99Between, summarise } from '../../gateway/ops-summary.ts';
import { parsePrometheusText } from '../../gateway/prom-text.ts';
import { pickEncoding } from '../../gateway/static-files.ts';

/** A registry as a service has one: the HTTP histogram and a projector's counter, read back as text. */
function service() {
  const registry = new Registry();
  const http = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'h',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.005, 0.05, 0.5],
    registers: [registry],
  });
  const messages = new Counter({
    name: 'projector_messages_total',
    help: 'm',
    labelNames: ['projector', 'outcome'],
    registers: [registry],
  });
  const scrape = async (at: number) => ({
    at,
    up: true,
    samples: parsePrometheusText(await registry.metrics()),
  });
  return { http, messages, scrape };
}

describe('ops summary from Prometheus text', () => {
  it('reads samples with labels, escapes and +Inf', () => {
    const samples = parsePrometheusText('# HELP x y\nx_bucket{le="+Inf",route="/a \\"b\\""} 3\nup 1\n');
    expect(samples).toEqual([
      { name: 'x_bucket', labels: { le: '+Inf', route: '/a "b"' }, value: 3 },
      { name: 'up', labels: {}, value: 1 },
    ]);
  });

  it('turns two scrapes into a request rate, an error rate and a P99 bucket bound', async () => {
    const s = service();
    const before = await s.scrape(0);
    for (let i = 0; i < 98; i++) s.http.observe({ method: 'GET', route: '/v1/a', status_code: '200' }, 0.002);
    s.http.observe({ method: 'GET', route: '/v1/a', status_code: '500' }, 0.3);
    s.http.observe({ method: 'GET', route: '/v1/b', status_code: '200' }, 0.3);
    s.messages.inc({ projector: 'redis', outcome: 'dead_lettered' }, 2);
    const after = await s.scrape(10_000);
    const summary = summarise('query-api', [before, after]);
    expect(summary.points).toEqual([{ t: 10_000, rps: 10, errorRate: 0.01, p99Ms: 500 }]);
    expect(summary.deadLettered).toBe(2);
    expect(summary.cacheHitRatio).toBeNull();
  });

  it('has no P99 for an interval without requests', async () => {
    const s = service();
    const a = await s.scrape(0);
    expect(p99Between(a.samples, (await s.scrape(1000)).samples)).toBeNull();
  });
});

describe('precompressed encoding choice', () => {
  const file = {
    type: 't',
    etag: '"e"',
    cacheControl: 'no-cache',
    raw: Buffer.from('x'),
    br: Buffer.from('b'),
    gz: Buffer.from('g'),
  };
  it('prefers brotli, then gzip, honours q=0, else identity', () => {
    expect(pickEncoding('gzip, deflate, br', file)).toBe('br');
    expect(pickEncoding('gzip, br;q=0', file)).toBe('gzip');
    expect(pickEncoding('identity', file)).toBeUndefined();
    expect(pickEncoding(undefined, file)).toBeUndefined();
  });
});
