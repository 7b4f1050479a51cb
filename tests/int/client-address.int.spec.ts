/**
 * Whose address a service sees (per-IP flow rules, read-your-writes waits): behind the gateway or
 * a load balancer on this host or a private network, the client's it forwards; from anywhere
 * else, the peer's own. No engine: one service app on loopback.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../../platform/http/metrics.ts';
import { serviceApp } from '../../platform/http/service-app.ts';
import { createLogger } from '../../platform/logger.ts';

describe('the client address a service sees', () => {
  let server: Server;
  let base: string;

  beforeAll(async () => {
    const service = serviceApp({
      logger: createLogger('client-address-test', 'warn'),
      registry: createRegistry(),
      readiness: { checks: {} },
    });
    service.app.get('/whoami', (req, res) => void res.json({ ip: req.ip }));
    const app = service.finish();
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const ipSeen = async (headers: Record<string, string> = {}) =>
    ((await (await fetch(`${base}/whoami`, { headers })).json()) as { ip: string }).ip;

  it('given a request from a proxy on this host, then it is the forwarded client address', async () => {
    expect(await ipSeen({ 'x-forwarded-for': '203.0.113.7' })).toBe('203.0.113.7');
  });

  it('given a chain that starts outside, then the last address no trusted proxy vouches for', async () => {
    // 198.51.100.9 claims to forward for 203.0.113.7, but it is no proxy of ours: it is the client.
    expect(await ipSeen({ 'x-forwarded-for': '203.0.113.7, 198.51.100.9' })).toBe('198.51.100.9');
  });

  it('given no forwarding header, then the peer itself', async () => {
    expect(await ipSeen()).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
  });
});
