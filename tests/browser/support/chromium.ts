/**
 * Debian's chromium for the browser tests, driven by playwright-core (whose own browser download
 * cannot work on these machines). When it is missing, the setup installs it with apt (the tests
 * run as root in CI) and says so; when apt fails, the tests fail with apt's output, never skip.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

const found = (): string | undefined => CANDIDATES.find((path) => existsSync(path));

function aptInstall(packages: string[]): void {
  const run = (args: string[]) => {
    console.log(`[chromium] apt-get ${args.join(' ')}`);
    const r = spawnSync('apt-get', args, {
      encoding: 'utf8',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    return {
      ok: r.status === 0,
      output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`,
    };
  };
  let install = run(['install', '-y', ...packages]);
  // A fresh machine may have no package lists yet.
  if (!install.ok) {
    run(['update']);
    install = run(['install', '-y', 'chromium']);
  }
  if (!install.ok) {
    throw new Error(
      `chromium is not installed and 'apt-get install -y chromium' failed:\n${install.output.slice(-2000)}`,
    );
  }
}

/** The chromium executable, installed with apt first when missing. */
export function chromiumExecutable(): string {
  const existing = found();
  if (existing) return existing;
  console.log("[chromium] chromium not found: installing Debian's package (apt-get install -y chromium)");
  aptInstall(['chromium']);
  const installed = found();
  if (!installed) throw new Error(`apt installed chromium but none of ${CANDIDATES.join(', ')} exists`);
  console.log(`[chromium] installed: ${execFileSync(installed, ['--version'], { encoding: 'utf8' }).trim()}`);
  return installed;
}

/** A Chinese font, so the screenshots show the app's text instead of empty boxes (a cosmetic need: the tests read the DOM). */
function ensureChineseFont(): void {
  const fonts = spawnSync('fc-list', [':lang=zh'], { encoding: 'utf8' });
  if (fonts.status === 0 && fonts.stdout.trim() !== '') return;
  console.log('[chromium] no Chinese font: installing fonts-wqy-zenhei for the screenshots');
  aptInstall(['fonts-wqy-zenhei']);
}

export async function launchChromium(): Promise<Browser> {
  const executablePath = chromiumExecutable();
  ensureChineseFont();
  return chromium.launch({
    executablePath,
    headless: true,
    // Root in a container: chromium's sandbox needs user namespaces it does not have there.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
}
