/**
 * Outbound protection of PostgreSQL (platform/flow/outbound.ts, pg-guard.ts) on the real engine:
 *  - slow-call ratio: statements slower than a tiny threshold (pg_sleep) open the breaker though
 *    each caller got its rows; then calls are refused at once; after halfOpenAfter one probe that
 *    is fast closes it again;
 *  - error ratio, through the command API: its pool reaches PostgreSQL through a TCP proxy the
 *    test can cut; failures open the breaker, commands are then answered 503
 *    dependency_unavailable with Retry-After without a connection attempt; the proxy back, the
 *    half-open probe closes the breaker and commands succeed again. The state shows on
 *    GET /v1/admin/flow and on /metrics.
 */
import { randomUUID } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCommandApi, type CommandApiHandle } from '../../command-api/start.ts';
import { parseConfig } from '../../platform/config.ts';
import { DependencyGuard, DependencyUnavailableError } from '../../platform/flow/outbound.ts';
import { guardPool, PG_GUARD_DEFAULTS } from '../../platform/flow/pg-guard.ts';
import { signToken } from '../../platform/http/auth.ts';
import { createLogger } from '../../platform/logger.ts';
import { createPool, withTransaction, type Pool } from '../../platform/pg.ts';
import { DATABASE_URL, migrateTestDatabase, sleep, testPool } from '../support/db.ts';
import { HttpClient } from '../support/http-client.ts';
import { TEST_SECRET } from '../support/command-api-harness.ts';
import { startQueryInstance, type QueryInstance } from '../support/query-api-harness.ts';
import { testConfig } from '../support/test-config.ts';
import { uniqueName } from '../support/wait.ts';
import { createServer as createHttpServer } from 'node:http';

describe('slow-call breaker on the pool', () => {
  let raw: Pool;
  beforeAll(() => {
    raw = testPool(4);
  });
  afterAll(async () => {
    await raw.end();
  });

  it('opens on slow statements (callers still get their rows), refuses fast, half-opens and closes', async () => {
    const guard = new DependencyGuard('postgres', {
      ...PG_GUARD_DEFAULTS,
      concurrency: 4,
      slowCallMs: 20,
      slowCallRatio: 0.5,
      windowMs: 2000,
      minimumRps: 2, // 4 calls in the 2 s window before it may open
      halfOpenAfterMs: 500,
    });
    const pool = guardPool(raw, guard);
    for (let i = 0; i < 4; i++) {
      const { rows } = await pool.query<{ x: number }>('SELECT 7 AS x, pg_sleep(0.05)');
      expect(rows[0]?.x).toBe(7);
    }
    expect(guard.state).toBe('open');
    const started = performance.now();
    await expect(pool.query('SELECT 1')).rejects.toBeInstanceOf(DependencyUnavailableError);
    await expect(withTransaction(pool, (c) => c.query('SELECT 1'))).rejects.toMatchObject({
      code: 'EDEPENDENCYOPEN',
    });
    const refusedIn = performance.now() - started;
    console.log(`slow-call breaker open: two calls refused in ${refusedIn.toFixed(1)} ms`);
    expect(refusedIn).toBeLessThan(50);
    await sleep(600);
    await pool.query('SELECT 1'); // the half-open probe, fast: closes the breaker
    expect(guard.state).toBe('closed');
    // A transaction's statements are judged too, and the client goes back to the pool unwrapped.
    await withTransaction(pool, (c) => c.query('SELECT 1'));
    expect(guard.view()).toMatchObject({ slowCalls: 4, inFlight: 0, queued: 0 });
    expect(raw.idleCount).toBeGreaterThan(0);
  });
});

/** A TCP proxy to PostgreSQL the test can cut (every connection dropped at once) and restore. */
async function pgProxy(target: URL) {
  const sockets = new Set<Socket>();
  let up = true;
  let accepted = 0;
  const server: Server = createServer((client) => {
    accepted += 1;
    if (!up) {
      client.destroy();
      return;
    }
    const upstream = connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    accepted: () => accepted,
    cut() {
      up = false;
      for (const s of sockets) s.destroy();
    },
    restore() {
      up = true;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('error-ratio breaker on the command API', () => {
  let proxy: Awaited<ReturnType<typeof pgProxy>>;
  let pool: Pool;
  let api: CommandApiHandle;
  let http: HttpClient;
  let adminHttp: HttpClient;
  let admin: string;

  beforeAll(async () => {
    await migrateTestDatabase();
    const target = new URL(DATABASE_URL);
    proxy = await pgProxy(target);
    const url = new URL(DATABASE_URL);
    url.port = String(proxy.port);
    pool = createPool({ DATABASE_URL: url.toString(), PG_POOL_MAX: 4 }, { connectionTimeoutMs: 1000 });
    const parsed = parseConfig(process.env);
    if (!parsed.ok) throw new Error(parsed.errors.join('; '));
    api = await startCommandApi({
      config: { ...parsed.config, JWT_SECRET: TEST_SECRET, PATIENT_COMMANDS_PER_MINUTE: 0 },
      logger: createLogger('flow-outbound-test', process.env.TEST_LOG_LEVEL ?? 'silent'),
      port: 0,
      adminPort: 0,
      host: '127.0.0.1',
      migrate: false,
      pool,
      app: {
        idempotencyPurgeIntervalMs: 0,
        pgGuard: { errorRatio: 0.5, windowMs: 2000, minimumRps: 1, halfOpenAfterMs: 1000 },
      },
    });
    http = new HttpClient(api.url);
    adminHttp = new HttpClient(api.adminUrl);
    admin = await signToken(TEST_SECRET, { sub: 'admin-outbound', role: 'admin' }, { expiresIn: '10m' });
  }, 60_000);

  afterAll(async () => {
    await api?.stop(1000);
    await pool?.end();
    await proxy?.close();
  });

  const book = async () => {
    const patientId = `patient-${randomUUID().slice(0, 8)}`;
    const started = performance.now();
    const res = await http.post('/v1/appointments', {
      token: await signToken(TEST_SECRET, { sub: patientId, role: 'patient' }, { expiresIn: '10m' }),
      idempotencyKey: randomUUID(),
      body: { scheduleId: randomUUID(), patientId },
    });
    return { res, ms: performance.now() - started };
  };
  const postgresState = async () => {
    const res = await http.get('/v1/admin/flow', { token: admin });
    expect(res.status).toBe(200);
    return (
      res.body as { dependencies: { name: string; state: string; rejected: number }[] }
    ).dependencies.find((d) => d.name === 'postgres');
  };

  it('opens on failures, answers 503 fast without touching PostgreSQL, recovers through a half-open probe', async () => {
    // Healthy: an unknown schedule is a 404 PostgreSQL answered.
    expect((await book()).res.status).toBe(404);
    expect((await postgresState())?.state).toBe('closed');

    proxy.cut();
    // The healthy statements are still in the window: it opens once failures outnumber them.
    const failing: number[] = [];
    while (failing.length < 40 && (await postgresState())?.state !== 'open') {
      failing.push((await book()).res.status);
    }
    console.log(`error-ratio breaker opened after ${failing.length} failed commands`);
    expect(failing.every((s) => s === 503)).toBe(true);
    expect((await postgresState())?.state).toBe('open');

    const attempts = proxy.accepted();
    const open = await book();
    console.log(`error-ratio breaker open: 503 in ${open.ms.toFixed(1)} ms`);
    expect(open.res.status).toBe(503);
    expect(open.res.body).toMatchObject({ code: 'dependency_unavailable' });
    expect(Number(open.res.headers['retry-after'])).toBeGreaterThan(0);
    expect(open.ms).toBeLessThan(100);
    expect(proxy.accepted()).toBe(attempts); // the breaker answered, not a connection attempt
    expect((await postgresState())?.rejected).toBeGreaterThan(0);
    const metrics = (await adminHttp.get('/metrics')).text;
    expect(metrics).toContain('flow_dependency_breaker_state{dependency="postgres",state="open"} 1');

    proxy.restore();
    await sleep(1100);
    expect((await book()).res.status).toBe(404); // the probe reaches PostgreSQL and closes the breaker
    expect((await postgresState())?.state).toBe('closed');
  });
});

describe('error-ratio breaker on the query API search', () => {
  let hits = 0;
  // A search engine stand-in that answers every request 503 (an engine shedding load).
  const engine = createHttpServer((_req, res) => {
    hits += 1;
    res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"overloaded"}');
  });
  let query: QueryInstance;

  beforeAll(async () => {
    await new Promise<void>((r) => engine.listen(0, '127.0.0.1', r));
    const address = engine.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    query = await startQueryInstance(
      { ...testConfig(), SEARCH_URL: `http://127.0.0.1:${address.port}` },
      {
        catalogPrefix: uniqueName('catalog:'),
        searchAlias: uniqueName('institutions'),
        readModelRoot: uniqueName('rm'),
      },
    );
  }, 60_000);

  afterAll(async () => {
    await query?.close();
    await new Promise((r) => engine.close(r));
  });

  it('stops sending searches to a failing engine and answers 503 at once', async () => {
    const statuses: number[] = [];
    let open = false;
    for (let i = 0; i < 30 && !open; i++) {
      const res = await query.get(`/v1/search/institutions?q=x${i}`);
      statuses.push(res.status);
      await res.text();
      const metrics = await (await query.adminGet('/metrics')).text();
      open = metrics.includes('flow_dependency_breaker_state{dependency="search",state="open"} 1');
    }
    console.log(`search breaker opened after ${statuses.length} failed searches (engine hit ${hits} times)`);
    expect(open).toBe(true);
    expect(statuses.every((s) => s === 503)).toBe(true);
    const before = hits;
    const started = performance.now();
    const res = await query.get('/v1/search/institutions?q=after');
    const ms = performance.now() - started;
    expect(res.status).toBe(503);
    expect(((await res.json()) as { code: string }).code).toBe('dependency_unavailable');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(hits).toBe(before);
    console.log(`search breaker open: 503 in ${ms.toFixed(1)} ms, engine not called`);
  });
});
