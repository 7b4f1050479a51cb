/**
 * Connection hygiene of a public listener (platform/http/server.ts, item 5 of issue 16), on the
 * command API as its start function serves it, with short HTTP_* settings: connections over the
 * cap are dropped, a slowloris (headers trickled) and a body trickled are cut at their deadlines,
 * an idle keep-alive connection and a connection that never sends anything are closed.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCommandApi, type CommandApiHandle } from '../../command-api/start.ts';
import { signToken } from '../../platform/http/auth.ts';
import { createLogger } from '../../platform/logger.ts';
import type { Pool } from '../../platform/pg.ts';
import { migrateTestDatabase, testPool } from '../support/db.ts';
import { testConfig } from '../support/test-config.ts';

const SECRET = 'connection-hygiene-secret-0123456789-abcdef';
let pool: Pool;
const started: CommandApiHandle[] = [];

async function server(http: {
  HTTP_MAX_CONNECTIONS: number;
  HTTP_HEADERS_TIMEOUT_MS: number;
  HTTP_REQUEST_TIMEOUT_MS: number;
  HTTP_KEEP_ALIVE_TIMEOUT_MS: number;
}): Promise<CommandApiHandle> {
  const handle = await startCommandApi({
    config: { ...testConfig(), JWT_SECRET: SECRET, PATIENT_COMMANDS_PER_MINUTE: 0, ...http },
    logger: createLogger('connection-hygiene-test', 'silent'),
    port: 0,
    adminPort: 0,
    host: '127.0.0.1',
    migrate: false,
    pool,
    app: { idempotencyPurgeIntervalMs: 0 },
  });
  started.push(handle);
  return handle;
}

/** A raw TCP client that records what it received and when the server closed it. */
interface Raw {
  socket: Socket;
  received: () => string;
  /** Resolves with ms from `since` (default: connect) when the server closes or resets the connection. */
  closed: Promise<number>;
}

async function raw(port: number): Promise<Raw> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const t0 = performance.now();
  let data = '';
  socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
  const closed = new Promise<number>((resolve) => {
    socket.once('close', () => resolve(performance.now() - t0));
    socket.on('error', () => undefined);
  });
  return { socket, received: () => data, closed };
}

const GET = 'GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n';

/** Sends a GET /healthz on `r` and waits for the whole 200 answer (the connection stays open). */
async function healthz(r: Raw): Promise<void> {
  const before = r.received().length;
  r.socket.write(GET);
  const deadline = Date.now() + 5_000;
  // /healthz answers chunked: the last chunk (0 CRLF CRLF) ends the response.
  while (!r.received().slice(before).endsWith('\r\n0\r\n\r\n')) {
    if (Date.now() > deadline) throw new Error(`no answer: ${r.received()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  expect(r.received().slice(before)).toMatch(/^HTTP\/1\.1 200/);
}

const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([
    p,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)),
  ]);

beforeAll(async () => {
  await migrateTestDatabase();
  pool = testPool(2);
});

afterAll(async () => {
  for (const s of started) await s.stop(500);
  await pool?.end();
});

describe('connection cap (HTTP_MAX_CONNECTIONS)', () => {
  it('given a cap of 3 and 3 open connections, then a fourth is dropped unanswered, and admitted once one closes', async () => {
    const { port } = await server({
      HTTP_MAX_CONNECTIONS: 3,
      HTTP_HEADERS_TIMEOUT_MS: 10_000,
      HTTP_REQUEST_TIMEOUT_MS: 10_000,
      HTTP_KEEP_ALIVE_TIMEOUT_MS: 10_000,
    });
    const held = await Promise.all([raw(port), raw(port), raw(port)]);
    for (const r of held) await healthz(r);

    const fourth = await raw(port);
    fourth.socket.write(GET);
    const after = await within(fourth.closed, 2_000, 'the connection over the cap closed');
    console.log(
      `[connection-hygiene] over the cap: closed after ${after.toFixed(0)} ms, ${fourth.received().length} bytes received`,
    );
    expect(fourth.received()).toBe('');
    // The held connections still serve.
    await healthz(held[0]);

    held[2].socket.destroy();
    await held[2].closed;
    await new Promise((resolve) => setTimeout(resolve, 50));
    const fifth = await raw(port);
    await healthz(fifth);
    for (const r of [held[0], held[1], fifth]) r.socket.destroy();
  });
});

describe('timeouts (HTTP_HEADERS_TIMEOUT_MS, HTTP_REQUEST_TIMEOUT_MS, HTTP_KEEP_ALIVE_TIMEOUT_MS)', () => {
  let port: number;
  beforeAll(async () => {
    ({ port } = await server({
      HTTP_MAX_CONNECTIONS: 100,
      HTTP_HEADERS_TIMEOUT_MS: 600,
      HTTP_REQUEST_TIMEOUT_MS: 1_200,
      HTTP_KEEP_ALIVE_TIMEOUT_MS: 300,
    }));
  });

  it('a slowloris (a header line every 100 ms, never the end) is answered 408 and cut within the header timeout', async () => {
    const r = await raw(port);
    r.socket.write('GET /healthz HTTP/1.1\r\nHost: test\r\n');
    let n = 0;
    const drip = setInterval(() => {
      if (!r.socket.destroyed) r.socket.write(`X-Drip-${n++}: a\r\n`);
    }, 100);
    try {
      const after = await within(r.closed, 3_000, 'the slowloris was cut');
      console.log(
        `[connection-hygiene] slowloris: ${n} header lines, cut after ${after.toFixed(0)} ms (header timeout 600 ms)`,
      );
      expect(after).toBeGreaterThanOrEqual(500);
      expect(after).toBeLessThan(600 + 150 + 400); // timeout + checking interval + slack
      expect(r.received()).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      clearInterval(drip);
    }
  });

  it('a connection that never sends a byte is closed within the header timeout', async () => {
    const r = await raw(port);
    const after = await within(r.closed, 3_000, 'the silent connection was closed');
    console.log(`[connection-hygiene] silent connection closed after ${after.toFixed(0)} ms`);
    expect(after).toBeLessThan(600 + 150 + 400);
  });

  it('a body trickled slower than the request timeout is cut with 408', async () => {
    const token = await signToken(SECRET, { sub: 'h-hygiene', role: 'hospital', institutionId: '1' });
    const r = await raw(port);
    r.socket.write(
      'POST /v1/schedules HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n' +
        `Authorization: Bearer ${token}\r\nIdempotency-Key: hygiene-1\r\nContent-Length: 1000\r\n\r\n{`,
    );
    const drip = setInterval(() => {
      if (!r.socket.destroyed) r.socket.write(' ');
    }, 100);
    try {
      const after = await within(r.closed, 4_000, 'the trickled body was cut');
      console.log(
        `[connection-hygiene] trickled body: cut after ${after.toFixed(0)} ms (request timeout 1200 ms)`,
      );
      expect(after).toBeGreaterThanOrEqual(1_000);
      expect(after).toBeLessThan(1_200 + 150 + 600);
      expect(r.received()).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      clearInterval(drip);
    }
  });

  it('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
    const r = await raw(port);
    await healthz(r);
    const answered = performance.now();
    await within(r.closed, 3_000, 'the idle connection was closed');
    const idle = performance.now() - answered;
    console.log(
      `[connection-hygiene] idle keep-alive connection closed after ${idle.toFixed(0)} ms idle (timeout 300 ms)`,
    );
    expect(idle).toBeGreaterThanOrEqual(250);
    // Node 20.20 keeps the socket 1 s past the advertised Keep-Alive timeout (so a client that
    // honours the header closes first, never racing the server's close).
    expect(idle).toBeLessThan(300 + 1_000 + 500);
  });
});
