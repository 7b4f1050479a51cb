import { describe, expect, it } from 'vitest';
import { DEV_JWT_SECRET, parseConfig } from '../../platform/config.ts';

const PATIENT_KEK = 'cd'.repeat(32);

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

describe('JWT keys', () => {
  it('defaults: 127.0.0.1, issuer, audience and a one-day maximum lifetime', () => {
    expect(parseConfig({})).toMatchObject({
      ok: true,
      config: {
        HOST: '127.0.0.1',
        JWT_ISSUER: 'booking-platform',
        JWT_AUDIENCE: 'booking-api',
        JWT_MAX_TTL_SECONDS: 86_400,
      },
    });
  });

  it('in production refuses the development JWT secret, and any secret under 32 bytes anywhere', () => {
    // A production key-encryption key throughout: its own refusal is tested in patient-vault.unit.spec.ts.
    const dev = parseConfig({ NODE_ENV: 'production', PATIENT_KEK });
    expect(dev.ok).toBe(false);
    if (!dev.ok)
      expect(dev.errors).toEqual([expect.stringMatching(/^JWT_SECRET="": must be set in production/)]);
    expect(parseConfig({ NODE_ENV: 'production', PATIENT_KEK, JWT_SECRET: 'p'.repeat(32) }).ok).toBe(true);
    const short = parseConfig({ JWT_SECRET: 'short' });
    expect(short.ok).toBe(false);
    if (!short.ok) expect(short.errors[0]).toMatch(/^JWT_SECRET="short": must be at least 32 bytes/);
    // JWT_KEYS replaces JWT_SECRET, so the unused development default does not block production.
    expect(parseConfig({ NODE_ENV: 'production', PATIENT_KEK, JWT_KEYS: `k1:${'p'.repeat(32)}` }).ok).toBe(
      true,
    );
  });

  it('JWT_KEYS: kid:secret pairs, each secret of at least 32 bytes, no kid twice, not the dev secret in production', () => {
    const bad = (value: string, env: Record<string, string> = {}) => {
      const r = parseConfig({ ...env, JWT_KEYS: value });
      return r.ok ? undefined : r.errors[0];
    };
    expect(bad(`k2:${'a'.repeat(32)},k1:${'b'.repeat(40)}`)).toBeUndefined();
    expect(bad('no-colon')).toMatch(/kid:secret/);
    expect(bad(`k1:${'a'.repeat(31)}`)).toMatch(/32 bytes/);
    expect(bad(`k1:${'a'.repeat(32)},k1:${'b'.repeat(32)}`)).toMatch(/twice/);
    expect(bad(`k1:${DEV_JWT_SECRET}`, { NODE_ENV: 'production', PATIENT_KEK })).toMatch(
      /development secret/,
    );
  });
});
