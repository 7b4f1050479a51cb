/**
 * Gray release (docs/adr/0021): two builds of the query API side by side (two instances labelled
 * 1.0.0 and 1.1.0) behind one gateway; the canary's share moves live, 0 % → 50 % (with
 * `npm run gray`) → 100 %, without a restart. At 50 % each user (here: a client_id cookie) lands
 * where the hash of their principal says, on every request, and the split matches the share
 * within tolerance; a tester reaches the canary with X-Release at 0 %; every answer names the
 * version that served it, and the gateway's metrics carry it.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../../gateway/config.ts';
import { bucketOf, trackOf } from '../../gateway/gray.ts';
import { GrayStore } from '../../gateway/gray-store.ts';
import { startGateway, type GatewayHandle } from '../../gateway/start.ts';
import { createLogger } from '../../platform/logger.ts';
import { createRedis } from '../../platform/redis.ts';
import { startQueryInstance, type QueryInstance } from '../support/query-api-harness.ts';
import { testConfig } from '../support/test-config.ts';
import { uniqueName, waitFor } from '../support/wait.ts';

const config = { ...testConfig(), NODE_ENV: 'test' as const };
const grayKey = uniqueName('gray:release');
const clients = Array.from({ length: 200 }, (_, i) => `client-${i}`);
const versions = { stable: '1.0.0', canary: '1.1.0' };
let redis: Redis;
let store: GrayStore;
let builds: QueryInstance[] = [];
let gateway: GatewayHandle;

/** The version that answered each client, one request per client. */
async function servedVersions(): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < clients.length; i += 50) {
    const batch = clients.slice(i, i + 50).map(async (client) => {
      const res = await fetch(`${gateway.url}/v1/institutions?limit=1`, {
        headers: { cookie: `client_id=${client}` },
      });
      await res.body?.cancel();
      expect(res.status).toBe(200);
      return res.headers.get('x-served-version') ?? 'none';
    });
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

const expectedAt = (share: number) =>
  clients.map((c) =>
    trackOf(bucketOf(`cookie:${c}`), share) === 'canary' ? versions.canary : versions.stable,
  );

async function shareApplied(share: number): Promise<void> {
  await waitFor(() => (gateway.upstreams.share('query-api') === share ? true : undefined), {
    what: `the gateway applying ${share} %`,
    timeoutMs: 5_000,
  });
}

beforeAll(async () => {
  redis = createRedis(config, 'gray-release-test');
  store = new GrayStore(redis, grayKey);
  const opts = {
    catalogPrefix: `${uniqueName('gray')}:`,
    searchAlias: uniqueName('gray'),
    readModelRoot: uniqueName('gray-rm'),
  };
  builds = await Promise.all([0, 1].map(() => startQueryInstance(config, opts)));
  gateway = await startGateway({
    config,
    gateway: {
      ...loadGatewayConfig(config, {}),
      queryApiUrls: [builds[0]!.baseUrl],
      queryApiCanaryUrls: [builds[1]!.baseUrl],
      stableVersion: versions.stable,
      canaryVersion: versions.canary,
      metricsTargets: {},
    },
    grayStore: store,
    grayPollMs: 100,
    port: 0,
    adminPort: 0,
    logger: createLogger('gateway-test', process.env.TEST_LOG_LEVEL ?? 'silent'),
  });
}, 60_000);

afterAll(async () => {
  await gateway?.stop(100);
  await Promise.all(builds.map((b) => b.close()));
  await redis?.del(grayKey);
  redis?.disconnect();
});

describe('gray release', () => {
  it('at 0 % serves everyone from the stable build; a tester reaches the canary with X-Release', async () => {
    expect(new Set(await servedVersions())).toEqual(new Set([versions.stable]));
    const tester = await fetch(`${gateway.url}/v1/institutions?limit=1`, {
      headers: { 'x-release': 'canary' },
    });
    await tester.body?.cancel();
    expect(tester.headers.get('x-served-version')).toBe(versions.canary);
    expect(tester.headers.get('x-release-track')).toBe('canary');
  });

  it('moved live to 50 % with npm run gray: each user stays where the hash of their principal says', async () => {
    await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'gateway/gray-cli.ts', 'set', 'query-api', '50'],
      {
        env: { ...process.env, GRAY_RELEASE_KEY: grayKey },
      },
    );
    await shareApplied(50);
    const first = await servedVersions();
    expect(first).toEqual(expectedAt(50));
    expect(await servedVersions()).toEqual(first);
    const canary = first.filter((v) => v === versions.canary).length / clients.length;
    console.log(`[gray] at 50 %: ${(canary * 100).toFixed(1)} % of ${clients.length} clients on the canary`);
    expect(canary).toBeGreaterThan(0.38);
    expect(canary).toBeLessThan(0.62);
  });

  it('at 100 % serves everyone from the canary; the metrics tell the two versions apart', async () => {
    await store.set('query-api', 100, 'test');
    await shareApplied(100);
    expect(new Set(await servedVersions())).toEqual(new Set([versions.canary]));
    const metrics = await (await fetch(`${gateway.adminUrl}/metrics`)).text();
    for (const [version, track] of [
      [versions.stable, 'stable'],
      [versions.canary, 'canary'],
    ]) {
      expect(metrics).toMatch(
        new RegExp(
          `gateway_upstream_request_duration_seconds_count\\{service="query-api",version="${version}",track="${track}",status_code="200"\\} [1-9]`,
        ),
      );
    }
    expect(metrics).toMatch(/gateway_gray_share_percent\{service="query-api"\} 100/);
  });
});
