/**
 * The accept queue of a public listener (HTTP_LISTEN_BACKLOG, platform/http/server.ts): while the
 * loop is stalled, new connections complete in the kernel up to the backlog; past it the kernel
 * drops their SYNs and each client waits for its retransmit (1 s, then 3 s). Node's default of 511
 * dropped thousands of SYNs in the overload benchmark (bench/results/overload.md, 2026-12-02).
 * Real kernel, real sockets: the listener runs in a child process whose loop stalls for 2.5 s.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { connectionLimitsOf, DEFAULT_CONNECTION_LIMITS } from '../../platform/http/server.ts';

const CHILD = new URL('../support/stalled-listener-child.ts', import.meta.url).pathname;
const STALL_MS = 2500;
/** Past Node's default backlog of 511, and within the fd limit of a test worker. */
const CLIENTS = 800;
const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
// The kernel caps every backlog at net.core.somaxconn: below these counts the tests cannot tell.
const tooSmall = (n: number) => somaxconn < n;
if (tooSmall(CLIENTS))
  console.warn(
    `listen-backlog: skipped, net.core.somaxconn is ${somaxconn}, below the ${CLIENTS} clients the test opens`,
  );

/** Starts a stalled listener, opens CLIENTS connections, and counts those the kernel completed within 2 s. */
async function connectedWhileStalled(backlog: number): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, String(backlog), String(STALL_MS)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('exit', (code) => reject(new Error(`listener child exited ${code}`)));
  });
  let connected = 0;
  const sockets: Socket[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (connected += 1));
    s.on('error', () => undefined);
    sockets.push(s);
  }
  // Dropped SYNs are retried at 1 s (dropped again: the loop still stalls) and 3 s: at 2 s the count
  // is what the accept queue held, a second away from either retransmit.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const count = connected;
  for (const s of sockets) s.destroy();
  await exited;
  return count;
}

describe('listen backlog (HTTP_LISTEN_BACKLOG)', () => {
  it('reads HTTP_LISTEN_BACKLOG, 4096 by default', () => {
    expect(connectionLimitsOf({}).listenBacklog).toBe(4096);
    expect(connectionLimitsOf({ HTTP_LISTEN_BACKLOG: 64 }).listenBacklog).toBe(64);
  });

  it.skipIf(tooSmall(CLIENTS))(
    `given a stalled loop, then ${CLIENTS} new connections wait in the accept queue, none for a SYN retransmit (somaxconn ${somaxconn})`,
    async () => {
      expect(await connectedWhileStalled(DEFAULT_CONNECTION_LIMITS.listenBacklog)).toBe(CLIENTS);
    },
  );

  it.skipIf(tooSmall(CLIENTS))(
    'given Node’s old default of 511, then only about that many complete and the rest wait to retransmit',
    async () => {
      // The kernel completes backlog + 1 before it drops; the exact count is the kernel's business.
      const connected = await connectedWhileStalled(511);
      expect(connected).toBeGreaterThanOrEqual(400);
      expect(connected).toBeLessThan(600);
    },
  );
});
