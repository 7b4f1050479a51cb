/**
 * The gateway's HTTP contract, against the built web app and two real upstream HTTP servers that
 * say who answered: CDN headers (immutable hashed assets, revalidated index.html with a 304),
 * precompressed bodies by Accept-Encoding, the SPA fallback, /v1 routed by method and path,
 * an unreachable API as a 503 problem, the dev sign-in's and ops summary's guards.
 */
import { createServer, get as httpGet, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../../gateway/config.ts';
import { IMMUTABLE } from '../../gateway/static-files.ts';
import { startGateway, type GatewayHandle } from '../../gateway/start.ts';
import { ensureWebBuilt, webDist } from '../../web/build/ensure-built.ts';
import { TEST_SECRET } from '../support/command-api-harness.ts';
import { testConfig } from '../support/test-config.ts';

async function upstream(name: string): Promise<Server> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () =>
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ name, method: req.method, url: req.url, body })),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

describe('gateway', () => {
  let commands: Server;
  let queries: Server;
  let gateway: GatewayHandle;
  let down: GatewayHandle;
  const config = { ...testConfig(), JWT_SECRET: TEST_SECRET, NODE_ENV: 'test' as const };

  const start = (commandApiUrl: string, queryApiUrl: string) =>
    startGateway({
      config,
      gateway: {
        ...loadGatewayConfig(config, {}),
        commandApiUrl,
        queryApiUrl,
        webRoot: webDist,
        metricsTargets: {},
      },
      port: 0,
      adminPort: 0,
    });

  beforeAll(async () => {
    await ensureWebBuilt();
    [commands, queries] = await Promise.all([upstream('command'), upstream('query')]);
    gateway = await start(urlOf(commands), urlOf(queries));
    down = await start('http://127.0.0.1:9', 'http://127.0.0.1:9');
  }, 120_000);

  afterAll(async () => {
    await gateway?.stop(100);
    await down?.stop(100);
    commands?.close();
    queries?.close();
  });

  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${gateway.url}${path}`, { headers });

  it('serves hashed assets immutable, precompressed by Accept-Encoding', async () => {
    const js = readdirSync(join(webDist, 'assets')).find((f) => /^index-.*\.js$/.test(f));
    expect(js).toBeDefined();
    const path = `/assets/${js}`;
    // undici's fetch decodes bodies itself: ask with a raw request to see the encoded bytes.
    const raw = await get(path, { 'accept-encoding': 'identity' });
    expect(raw.headers.get('cache-control')).toBe(IMMUTABLE);
    expect(raw.headers.get('content-encoding')).toBeNull();
    const original = Buffer.from(await raw.arrayBuffer());
    for (const [encoding, decode] of [
      ['br', brotliDecompressSync],
      ['gzip', gunzipSync],
    ] as const) {
      const res = await new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
        const u = new URL(`${gateway.url}${path}`);
        httpGet({ host: u.hostname, port: u.port, path, headers: { 'accept-encoding': encoding } }, (r) => {
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () => resolve({ headers: r.headers, body: Buffer.concat(chunks) }));
        }).on('error', reject);
      });
      expect(res.headers['content-encoding']).toBe(encoding);
      expect(res.headers.vary).toBe('Accept-Encoding');
      expect(decode(res.body).equals(original)).toBe(true);
      expect(res.body.length).toBeLessThan(original.length / 2);
    }
  });

  it('revalidates index.html with its ETag, and answers app routes with it', async () => {
    const index = await get('/');
    expect(index.headers.get('cache-control')).toBe('no-cache');
    const etag = index.headers.get('etag');
    expect(etag).toMatch(/^"[\w-]+"$/);
    expect((await get('/', { 'if-none-match': etag! })).status).toBe(304);
    const app = await get('/institutions/42');
    expect(app.status).toBe(200);
    expect(app.headers.get('etag')).toBe(etag);
    expect(await app.text()).toContain('<div id="app">');
    expect((await get('/assets/missing-123.js')).status).toBe(404);
  });

  it('routes writes and command-side reads to the command API, other reads to the query API', async () => {
    const who = async (method: string, path: string) => {
      const res = await fetch(`${gateway.url}${path}`, {
        method,
        ...(method === 'POST' ? { body: '{"a":1}', headers: { 'content-type': 'application/json' } } : {}),
      });
      return (await res.json()) as { name: string; url: string; body: string };
    };
    expect((await who('GET', '/v1/homepage?city=%E5%8C%97%E4%BA%AC')).name).toBe('query');
    expect((await who('GET', '/v1/homepage?city=%E5%8C%97%E4%BA%AC')).url).toBe(
      '/v1/homepage?city=%E5%8C%97%E4%BA%AC',
    );
    expect((await who('GET', '/v1/booking-requests/abc?wait=1')).name).toBe('command');
    const post = await who('POST', '/v1/appointments');
    expect(post).toMatchObject({ name: 'command', url: '/v1/appointments', body: '{"a":1}' });
  });

  it('answers 503 dependency_unavailable when the API does not answer', async () => {
    const res = await fetch(`${down.url}/v1/homepage?city=x`);
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(((await res.json()) as { code: string }).code).toBe('dependency_unavailable');
  });

  it('guards the dev sign-in and the ops summary', async () => {
    const bad = await fetch(`${gateway.url}/dev/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"role":"root"}',
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { 'invalid-params': { name: string }[] })['invalid-params'][0]?.name).toBe(
      'role',
    );
    const signIn = async (role: string) => {
      const res = await fetch(`${gateway.url}/dev/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ role }),
      });
      expect(res.status).toBe(201);
      return ((await res.json()) as { token: string }).token;
    };
    expect((await get('/v1/ops/summary')).status).toBe(401);
    expect(
      (await get('/v1/ops/summary', { authorization: `Bearer ${await signIn('patient')}` })).status,
    ).toBe(403);
    const ok = await get('/v1/ops/summary', { authorization: `Bearer ${await signIn('admin')}` });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ services: [] });
  });
});
