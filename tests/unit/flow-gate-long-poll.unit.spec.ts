/**
 * A long poll holds no CPU while it waits: the gate enters it outside system protection, so idle
 * long polls neither count toward the process's in flight nor get shed by it (ADR 0025).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FlowControl } from '../../platform/flow/flow-control.ts';
import { inboundGate } from '../../platform/flow/gate.ts';
import { parseFlowRules } from '../../platform/flow/rules.ts';

const servers: http.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.closeAllConnections();
});

/** Every request is held until `releaseAll`; the system admits one request in flight. */
async function heldServer() {
  const flow = new FlowControl(
    parseFlowRules({ system: { maxInFlight: 1, bbr: false, maxEventLoopDelayMs: null } }),
  );
  const gate = inboundGate({
    flow,
    routes: [
      { method: 'GET', path: '/wait', longPoll: true },
      { method: 'GET', path: '/work' },
    ],
    trustProxy: 'loopback',
    maxQueryParams: 10,
  });
  const held: http.ServerResponse[] = [];
  const server = http.createServer(gate.wrap((_req, res) => void held.push(res)));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const get = (path: string) =>
    new Promise<number>((resolve, reject) => {
      http
        .get({ port, path, host: '127.0.0.1', agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .once('error', reject);
    });
  const heldCount = async (n: number) => {
    while (held.length < n) await new Promise((r) => setTimeout(r, 5));
  };
  const releaseAll = () => held.splice(0).forEach((res) => res.end('done'));
  return { flow, get, heldCount, releaseAll };
}

describe('the gate and long polls', () => {
  it('given two long polls held, then work is still admitted up to the system limit, and beyond it shed', async () => {
    const s = await heldServer();
    const polls = [s.get('/wait'), s.get('/wait')];
    await s.heldCount(2);
    expect(s.flow.inbound.inFlight).toBe(0);
    const work = s.get('/work');
    await s.heldCount(3);
    expect(await s.get('/work')).toBe(503); // the one in flight the system admits is taken
    expect(await Promise.race([s.get('/wait'), new Promise((r) => setTimeout(() => r('held'), 50))])).toBe(
      'held',
    );
    s.releaseAll();
    expect(await Promise.all([...polls, work])).toEqual([200, 200, 200]);
  });
});
