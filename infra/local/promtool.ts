/**
 * promtool (Prometheus's checker for configs and alert rules) without installing the Prometheus
 * server: the binary is taken from Debian's `prometheus` package (`apt-get download` + `dpkg -x`,
 * no service started) into the engines' cache. A `promtool` on PATH, or PROMTOOL, wins.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENGINES_HOME } from './engine-specs.ts';

const CACHED = join(ENGINES_HOME, 'tools', 'prometheus', 'usr', 'bin', 'promtool');

function onPath(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The path of a working promtool; throws with the reason when none can be had. */
export function ensurePromtool(): string {
  const found = process.env.PROMTOOL ?? onPath() ?? (existsSync(CACHED) ? CACHED : undefined);
  if (found) return found;
  const work = mkdtempSync(join(tmpdir(), 'promtool-'));
  try {
    execFileSync('apt-get', ['download', 'prometheus'], { cwd: work, stdio: 'pipe', timeout: 120_000 });
    const deb = readdirSync(work).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error('apt-get download prometheus produced no .deb');
    const target = join(ENGINES_HOME, 'tools', 'prometheus');
    mkdirSync(target, { recursive: true });
    execFileSync('dpkg', ['-x', join(work, deb), target], { stdio: 'pipe' });
  } catch (err) {
    const detail = (err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message;
    throw new Error(`promtool unavailable (Debian package prometheus: ${detail.split('\n').at(-1) ?? ''})`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return CACHED;
}
