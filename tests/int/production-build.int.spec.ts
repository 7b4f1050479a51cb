/**
 * The production build runs on plain `node`: `npm run build` compiles every service to dist/,
 * and each API starts from it (no tsx anywhere in the process), answers /healthz and /readyz, and
 * stops cleanly on SIGTERM. Built here, so a stale dist/ can never make this pass.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../platform/free-port.ts';
import { waitFor } from '../support/wait.ts';

const root = join(import.meta.dirname, '..', '..');

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });

describe('the production build', () => {
  const children: ChildProcess[] = [];

  beforeAll(() => {
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'pipe' });
  }, 120_000);

  afterAll(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  });

  it.each(['command-api', 'query-api'])(
    '%s starts on plain node from dist/ and stops on SIGTERM',
    async (service) => {
      const port = await freePort();
      let output = '';
      const child = spawn(process.execPath, [join('dist', service, 'main.js')], {
        cwd: root,
        env: {
          ...process.env,
          NODE_ENV: 'production',
          JWT_SECRET: 'production-build-test-secret-0123456789-abcdef',
          PATIENT_KEK: 'ab'.repeat(32),
          PORT: String(port),
          ADMIN_PORT: '0',
          LOG_FORMAT: 'json',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (output += d.toString()));

      const base = `http://127.0.0.1:${port}`;
      const ready = await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}:\n${output}`);
          const res = await fetch(`${base}/readyz`);
          return res.status === 200 ? res : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 100, what: `${service} /readyz from dist/` },
      ).catch((err: unknown) => {
        throw new Error(`${String(err)}\n${output}`);
      });
      expect(ready.status).toBe(200);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);

      const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
      expect(cmdline).toContain(join('dist', service, 'main.js'));
      expect(cmdline.join(' ')).not.toMatch(/tsx/);
      // JSON lines, as a log collector expects from production.
      const firstLine = output.split('\n').find((l) => l.trim().length > 0) ?? '';
      expect(() => JSON.parse(firstLine) as unknown).not.toThrow();

      child.kill('SIGTERM');
      expect(await exited(child)).toBe(0);
    },
  );
});
