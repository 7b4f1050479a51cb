/**
 * Builds the web app when web/dist is missing or older than its sources (web/src, web/index.html,
 * web/build): `npm start` and the browser tests serve what `npm run web:build` would produce,
 * without anyone remembering to run it. The build runs in a child process (`vite build`), so its
 * bundler never lives in the caller's memory.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const webDir = fileURLToPath(new URL('..', import.meta.url));
const root = join(webDir, '..');
export const webDist = join(webDir, 'dist');
const marker = join(webDist, 'build-report.json');

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newestMtime(join(path, name))));
}

/** Why the build is out of date, or undefined when web/dist is current. */
export function staleReason(): string | undefined {
  if (!existsSync(marker)) return 'web/dist is missing';
  const built = statSync(marker).mtimeMs;
  const sources = ['src', 'index.html', 'build'].map((p) => newestMtime(join(webDir, p)));
  return Math.max(...sources) > built ? 'web/ sources changed since the last build' : undefined;
}

export async function ensureWebBuilt(log: (line: string) => void = console.log): Promise<'fresh' | 'built'> {
  const reason = staleReason();
  if (!reason) return 'fresh';
  const vite = join(dirname(createRequire(import.meta.url).resolve('vite/package.json')), 'bin', 'vite.js');
  log(`${reason}: building the web app (vite build)`);
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [vite, 'build', '--config', join(webDir, 'build', 'vite.config.ts')],
      {
        cwd: root,
        // A caller under test (NODE_ENV=test) would otherwise get Vue's development build.
        env: { ...process.env, NODE_ENV: 'production' },
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (code !== 0) throw new Error(`vite build failed (exit ${code})`);
  return 'built';
}
