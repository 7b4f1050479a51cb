/**
 * The supervisor's probe reads what a service says about itself over real HTTP: 503 on /healthz
 * is `failing`, 200 `degraded` is degraded (not a restart), silence is `unreachable`, and readiness
 * with its reasons comes from /readyz — each within the probe's deadline.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeService } from '../../supervisor/watchdog.ts';

let answers: Record<string, { status: number; body: unknown } | 'hang'> = {};
let server: Server;
let base = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    const answer = answers[req.url ?? ''];
    if (!answer || answer === 'hang') return; // never answers
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

afterAll(() => {
  server.closeAllConnections();
  server.close();
});

describe('supervisor probe', () => {
  it('reads a dependency outage as degraded and not ready, with the reasons', async () => {
    answers = {
      '/healthz': { status: 200, body: { status: 'degraded', reasons: ['kafka: connection refused'] } },
      '/readyz': { status: 503, body: { status: 'not_ready', reasons: ['kafka: connection refused'] } },
    };
    const probe = await probeService(base);
    expect(probe).toMatchObject({ live: 'degraded', ready: false, reasons: ['kafka: connection refused'] });
  });

  it('reads a 503 on /healthz as failing', async () => {
    answers = {
      '/healthz': { status: 503, body: { status: 'failing', reasons: ['relay: loop died'] } },
      '/readyz': { status: 503, body: { status: 'not_ready', reasons: ['relay: loop died'] } },
    };
    expect(await probeService(base)).toMatchObject({ live: 'failing', ready: false });
  });

  it('reads a hung service as unreachable within the deadline', async () => {
    answers = { '/healthz': 'hang', '/readyz': 'hang' };
    const t0 = Date.now();
    const probe = await probeService(base, 300);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(probe.live).toBe('unreachable');
    expect(probe.reasons.join()).toMatch(/no answer/);
  });

  it('reads a healthy ready service as ok and ready', async () => {
    answers = {
      '/healthz': { status: 200, body: { status: 'ok' } },
      '/readyz': { status: 200, body: { status: 'ready' } },
    };
    expect(await probeService(base)).toMatchObject({ live: 'ok', ready: true, reasons: [] });
  });
});
