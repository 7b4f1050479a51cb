/**
 * Two instances of each API behind one gateway (docs/adr/0021), started in process: a catalog
 * change reaches both query instances (their per-process caches are invalidated from Redis);
 * bookings through both command APIs never overbook and never fail while places are left; an
 * instance that stops answering leaves the rotation without failing a read, and comes back
 * once its health checks pass. (Two command APIs without a gateway: booking-contention.)
 *
 * Gray release, on a second gateway over the same two query instances labelled as two builds
 * (1.0.0 and 1.1.0): the canary's share moves live, 0 % → 50 % (with `npm run gray`) → 100 %,
 * without a restart. At 50 % each user (here: a client_id cookie) lands where the hash of their
 * principal says, on every request, and the split matches the share within tolerance; a tester
 * reaches the canary with X-Release at 0 %; every answer names the version that served it, and
 * the gateway's metrics carry it.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scheduleStreamName } from '../../domain/schedule.ts';
import { loadGatewayConfig } from '../../gateway/config.ts';
import { bucketOf, trackOf } from '../../gateway/gray.ts';
import { GrayStore } from '../../gateway/gray-store.ts';
import { startGateway, type GatewayHandle } from '../../gateway/start.ts';
import { createLogger } from '../../platform/logger.ts';
import { createRedis, type RedisClient } from '../../platform/redis.ts';
import type { ChangeEvent } from '../../projections/catalog/change-event.ts';
import { RedisCatalogWriter } from '../../projections/catalog/redis-writer.ts';
import { catalogKeys, type Row } from '../../read-models/catalog.ts';
import { sendAsCarefulClient } from '../support/careful-client.ts';
import {
  book,
  newKey,
  openSchedule,
  randomPatient,
  startCommandApi,
  TEST_SECRET,
  type Harness,
} from '../support/command-api-harness.ts';
import { createAgent, HttpClient } from '../support/http-client.ts';
import { startQueryInstance, type QueryInstance } from '../support/query-api-harness.ts';
import { testConfig } from '../support/test-config.ts';
import { uniqueName, waitFor } from '../support/wait.ts';

const config = { ...testConfig(), JWT_SECRET: TEST_SECRET, NODE_ENV: 'test' as const };
const prefix = `${uniqueName('gw-inst')}:`;
const institutionId = 880_000_000 + Math.floor(Math.random() * 1_000_000);
let redis: RedisClient;
let writer: RedisCatalogWriter;
let queries: QueryInstance[] = [];
let commands: Harness[] = [];
let gateway: GatewayHandle;
let http: HttpClient;
const grayKey = uniqueName('gray:release');
const clients = Array.from({ length: 200 }, (_, i) => `client-${i}`);
const versions = { stable: '1.0.0', canary: '1.1.0' };
let grayGateway: GatewayHandle;
let store: GrayStore;

const institution = (lsn: number, name: string): ChangeEvent => {
  const row: Row = { id: institutionId, name, city: '杭州', level: '三级甲等', rating: 4, status: 'active' };
  return {
    kind: 'change',
    op: 'u',
    table: 'institutions',
    id: String(institutionId),
    before: null,
    after: row,
    lsn,
    snapshot: false,
    sourceTsMs: 0,
    tsMs: 0,
  };
};
const sentTo = (service: string) =>
  gateway.upstreams
    .describe()
    .filter((i) => i.service === service)
    .map((i) => i.sent);
const nameVia = async (get: (path: string) => Promise<{ status: number; body: unknown }>) => {
  const res = await get(`/v1/institutions/${institutionId}`);
  return res.status === 200
    ? (res.body as { institution: { name: string } }).institution.name
    : // The problem's code says who refused (a shed, a dependency, the gateway) when a read fails.
      `HTTP ${res.status} ${JSON.stringify((res.body as { code?: unknown } | undefined)?.code ?? res.body)}`;
};
const viaGateway = () => nameVia((path) => http.get(path));

/** The version that answered each client, one request per client. */
async function servedVersions(): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < clients.length; i += 50) {
    const batch = clients.slice(i, i + 50).map(async (client) => {
      const res = await fetch(`${grayGateway.url}/v1/institutions?limit=1`, {
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
  await waitFor(() => (grayGateway.upstreams.share('query-api') === share ? true : undefined), {
    what: `the gateway applying ${share} %`,
    timeoutMs: 5_000,
  });
}

beforeAll(async () => {
  redis = createRedis(config, 'instances-gateway-test');
  writer = new RedisCatalogWriter(redis, catalogKeys(prefix));
  await writer.apply('institutions', [institution(100, '一号医院')]);
  const opts = {
    catalogPrefix: prefix,
    searchAlias: uniqueName('gw-inst'),
    readModelRoot: uniqueName('gw-rm'),
  };
  // A long cache TTL: only the Redis invalidation can make an instance see the change.
  const queryConfig = { QUERY_L1_TTL_MS: 600_000 };
  [queries, commands] = await Promise.all([
    Promise.all(
      [0, 1].map(() => startQueryInstance(config, { ...opts, jwtSecret: TEST_SECRET, queryConfig })),
    ),
    Promise.all([0, 1].map(() => startCommandApi({ poolSize: 10 }))),
  ]);
  gateway = await startGateway({
    config,
    gateway: {
      ...loadGatewayConfig(config, {}),
      queryApiUrls: queries.map((q) => q.baseUrl),
      commandApiUrls: commands.map((c) => c.baseUrl),
      metricsTargets: {},
      healthIntervalMs: 100,
    },
    port: 0,
    adminPort: 0,
    logger: createLogger('gateway-test', process.env.TEST_LOG_LEVEL ?? 'silent'),
  });
  http = new HttpClient(gateway.url, createAgent(100));
  store = new GrayStore(redis, grayKey);
  grayGateway = await startGateway({
    config,
    gateway: {
      ...loadGatewayConfig(config, {}),
      queryApiUrls: [queries[0]!.baseUrl],
      queryApiCanaryUrls: [queries[1]!.baseUrl],
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
  http?.close();
  await gateway?.stop(100);
  await grayGateway?.stop(100);
  await redis?.del(grayKey);
  await Promise.all([...queries.map((q) => q.close()), ...commands.map((c) => c.stop())]);
  const keys = await redis?.keys(`${prefix}*`);
  if (keys?.length) await redis.unlink(...keys);
  redis?.disconnect();
});

describe('two instances of each API behind the gateway', () => {
  it('a catalog change reaches both query instances', async () => {
    // Both in rotation first: on a loaded host a probe during start-up can eject one for a moment.
    await waitFor(
      () =>
        gateway.upstreams.describe().every((i) => i.service !== 'query-api' || i.healthy) ? true : undefined,
      { what: 'both query instances in rotation', timeoutMs: 10_000 },
    );
    const before = sentTo('query-api');
    // Both instances now hold the first version in their in-process cache.
    for (let i = 0; i < 4; i++) expect(await viaGateway()).toBe('一号医院');
    expect(sentTo('query-api').map((n, i) => n - before[i]!)).toEqual([2, 2]);

    await writer.apply('institutions', [institution(200, '一号医院（新院区）')]);
    await waitFor(
      async () => {
        const names = await Promise.all(
          queries.map((q) =>
            nameVia(async (p) => {
              const res = await q.get(p);
              return { status: res.status, body: await res.json() };
            }),
          ),
        );
        return names.every((n) => n === '一号医院（新院区）') ? true : undefined;
      },
      { what: 'the change on both query instances', timeoutMs: 10_000, intervalMs: 20 },
    );
    const after = sentTo('query-api');
    for (let i = 0; i < 4; i++) expect(await viaGateway()).toBe('一号医院（新院区）');
    expect(sentTo('query-api').map((n, i) => n - after[i]!)).toEqual([2, 2]);
  });

  it('bookings through both command APIs never overbook and never fail while places are left', async () => {
    const [first] = commands;
    const scheduleId = await openSchedule(first!, { capacity: 20 });
    const viaGatewayHarness = { ...first!, http };
    const before = sentTo('command-api');
    const shed = { n: 0 };
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => randomPatient()).map((p) => {
        const key = newKey();
        return sendAsCarefulClient(() => book(viaGatewayHarness, scheduleId, p, key), shed);
      }),
    );
    const outcomes = responses.map((r) => (r.status === 201 ? '201' : `${r.status} ${String(r.body?.code)}`));
    // Anything but a booking or "full" would be a request failed while places were left.
    expect(outcomes.filter((o) => o === '201')).toHaveLength(20);
    expect(outcomes.filter((o) => o !== '201')).toEqual(
      Array.from({ length: 30 }, () => '409 schedule_full'),
    );
    const { rows } = await first!.pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM events WHERE stream_id = $1 AND event_type = 'AppointmentBooked'",
      [scheduleStreamName(scheduleId)],
    );
    expect(Number(rows[0]?.n)).toBe(20);
    const sent = sentTo('command-api').map((n, i) => n - before[i]!);
    console.log(
      `[instances] 50 bookings via the gateway: sent ${sent.join(' + ')}, ${shed.n} shed and retried`,
    );
    for (const n of sent) expect(n).toBeGreaterThan(10);
  });
});

describe('gray release', () => {
  it('at 0 % serves everyone from the stable build; a tester reaches the canary with X-Release', async () => {
    expect(new Set(await servedVersions())).toEqual(new Set([versions.stable]));
    const tester = await fetch(`${grayGateway.url}/v1/institutions?limit=1`, {
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
    const metrics = await (await fetch(`${grayGateway.adminUrl}/metrics`)).text();
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

describe('an instance of two', () => {
  it('an instance that stops answering leaves the rotation without failing a read, and returns when healthy', async () => {
    const gone = queries[1]!;
    const port = Number(new URL(gone.baseUrl).port);
    await gone.close();
    queries = [queries[0]!];
    // Reads go on: a refused connection ejects the instance and the read is sent to the other.
    for (let i = 0; i < 6; i++) expect(await viaGateway()).toBe('一号医院（新院区）');
    expect(gateway.upstreams.describe().find((i) => i.url === gone.baseUrl)?.healthy).toBe(false);

    // Something ready on that port again: back in rotation after its probes pass.
    const revived: Server = createServer((req, res) => {
      if (req.url === '/readyz') res.writeHead(200).end('{"status":"ok"}');
      else
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"institution":{"name":"revived"}}');
    });
    await new Promise<void>((resolve) => revived.listen(port, '127.0.0.1', resolve));
    try {
      await waitFor(
        () => (gateway.upstreams.describe().find((i) => i.url === gone.baseUrl)?.healthy ? true : undefined),
        { what: 'the instance back in rotation', timeoutMs: 5_000 },
      );
      const names = new Set<string>();
      for (let i = 0; i < 4; i++) names.add(await viaGateway());
      expect([...names].sort()).toEqual(['revived', '一号医院（新院区）']);
    } finally {
      revived.closeAllConnections();
      revived.close();
    }
  });
});
