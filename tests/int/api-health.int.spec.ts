/**
 * The APIs' health under a dependency outage, started as main.ts starts them: /readyz 503 with the
 * reason, /healthz 200 "degraded" (no restart for an outage), each within 1 s.
 */
import { describe, expect, it } from 'vitest';
import { startCommandApi } from '../../command-api/start.ts';
import { createLogger } from '../../platform/logger.ts';
import { testConfig } from '../support/test-config.ts';

async function get(url: string) {
  const t0 = Date.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  const body = (await res.json()) as { status: string; reasons?: string[]; checks?: Record<string, string> };
  return { status: res.status, body, ms: Date.now() - t0 };
}

describe('command API health', () => {
  it('PostgreSQL unreachable: /readyz 503 and /healthz 200 degraded, each within 1 s', async () => {
    const api = await startCommandApi({
      config: {
        ...testConfig(),
        DATABASE_URL: 'postgres://booking:booking@127.0.0.1:1/booking',
        PATIENT_COMMANDS_PER_MINUTE: 0,
      },
      logger: createLogger('dead-pg', 'silent'),
      port: 0,
      host: '127.0.0.1',
      migrate: false,
      app: { idempotencyPurgeIntervalMs: 0 },
    });
    try {
      const ready = await get(`${api.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(ready.body.reasons).toEqual([expect.stringMatching(/^postgres: /)]);
      expect(ready.ms).toBeLessThan(1000);
      const live = await get(`${api.url}/healthz`);
      expect(live.status).toBe(200);
      expect(live.body).toEqual({ status: 'degraded', reasons: [expect.stringMatching(/^postgres: /)] });
      expect(live.ms).toBeLessThan(1000);
      // The checks are on the admin port (bound to 127.0.0.1 like the public one).
      const detailed = await get(`${api.adminUrl}/healthz`);
      expect(detailed.body).toMatchObject({ status: 'degraded', checks: { postgres: 'failing' } });
      expect(new URL(api.adminUrl).hostname).toBe('127.0.0.1');
      expect((await api.health.live()).body.status).toBe('degraded');
    } finally {
      await api.stop(1_000);
    }
  });
});
