import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../platform/config.ts';

describe('config', () => {
  it('defaults point at the local engines', () => {
    const result = parseConfig({});
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.KAFKA_BROKERS).toEqual(['127.0.0.1:9092']);
    expect(result.config.DATABASE_URL).toBe('postgres://booking:booking@127.0.0.1:5432/booking');
    expect(result.config.SEARCH_ENGINE).toBe('opensearch');
    expect(result.config.COMMAND_API_PORT).toBe(3001);
    expect(result.config.QUERY_API_PORT).toBe(3002);
    expect(result.config.IDEMPOTENCY_TTL_HOURS).toBe(24);
  });

  it('parses broker lists and treats empty strings as unset', () => {
    const result = parseConfig({ KAFKA_BROKERS: 'k1:9092, k2:9093', PORT: '' });
    expect(result).toMatchObject({ ok: true, config: { KAFKA_BROKERS: ['k1:9092', 'k2:9093'] } });
    expect(result.ok && result.config.PORT).toBeUndefined();
  });

  it('gives one clear message per bad key', () => {
    const result = parseConfig({
      KAFKA_BROKERS: 'nonsense',
      PORT: 'abc',
      SEARCH_ENGINE: 'solr',
      REDIS_URL: 'http://x',
      IDEMPOTENCY_TTL_HOURS: '1',
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toHaveLength(5);
    const byKey = Object.fromEntries(result.errors.map((e) => [e.split('=')[0], e]));
    expect(byKey.KAFKA_BROKERS).toContain('host:port');
    expect(byKey.PORT).toMatch(/^PORT="abc": .*number/);
    expect(byKey.SEARCH_ENGINE).toContain('opensearch');
    expect(byKey.REDIS_URL).toContain('redis:');
    expect(byKey.IDEMPOTENCY_TTL_HOURS).toMatch(/>=\s*24|24/);
  });
});

describe('event store selection', () => {
  it('defaults to PostgreSQL and needs EVENTSTORE_URL only for eventstoredb', () => {
    expect(parseConfig({})).toMatchObject({ ok: true, config: { EVENT_STORE: 'postgres' } });
    const missing = parseConfig({ EVENT_STORE: 'eventstoredb' });
    expect(missing.ok).toBe(false);
    if (!missing.ok) expect(missing.errors).toEqual([expect.stringMatching(/^EVENTSTORE_URL="": required/)]);
    expect(
      parseConfig({ EVENT_STORE: 'eventstoredb', EVENTSTORE_URL: 'esdb://127.0.0.1:2113?tls=false' }),
    ).toMatchObject({ ok: true, config: { EVENTSTORE_URL: 'esdb://127.0.0.1:2113?tls=false' } });
  });

  it('rejects an unknown store and a URL that is not an esdb connection string', () => {
    const result = parseConfig({ EVENT_STORE: 'mongo', EVENTSTORE_URL: 'http://127.0.0.1:2113' });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const byKey = Object.fromEntries(result.errors.map((e) => [e.split('=')[0], e]));
    expect(byKey.EVENT_STORE).toContain('eventstoredb');
    expect(byKey.EVENTSTORE_URL).toContain('esdb://');
  });
});
