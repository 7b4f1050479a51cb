import { spawn, type ChildProcess } from 'node:child_process';
import { probe } from '../../infra/local/redis-cluster.ts';
import { freePort } from '../../platform/free-port.ts';
import { waitFor } from './wait.ts';

/**
 * A real redis-server of the test's own, so a test can kill it (SIGKILL) without taking the
 * machine's shared Redis away from every other test.
 */
export interface PrivateRedis {
  url: string;
  port: number;
  kill(): Promise<void>;
  start(): Promise<void>;
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const ping = async () => ((await probe(port, ['PING'])) === 'PONG' ? true : undefined);
  const self: PrivateRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    async start() {
      child = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        {
          stdio: 'ignore',
        },
      );
      await waitFor(ping, { timeoutMs: 10_000, what: `redis-server on ${port}` });
    },
    async kill() {
      if (!child || child.exitCode !== null) return;
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
  await self.start();
  return self;
}
