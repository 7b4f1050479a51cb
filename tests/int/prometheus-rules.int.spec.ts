/**
 * The Prometheus scrape config and alert rules in infra/prometheus/ are valid, and the alerts fire
 * as their unit tests (alerts.test.yml) say — checked by promtool itself. Tier int: it runs an
 * external tool that infra/local/promtool.ts fetches from Debian's packages on first use.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensurePromtool } from '../../infra/local/promtool.ts';

const DIR = join(import.meta.dirname, '..', '..', 'infra', 'prometheus');

describe('Prometheus config and alert rules (promtool)', () => {
  let promtool: string | undefined;
  let why = '';

  beforeAll(() => {
    try {
      promtool = ensurePromtool();
    } catch (err) {
      why = (err as Error).message;
      console.log(`SKIP promtool checks: ${why}`);
    }
  }, 180_000);

  const run = (...args: string[]) =>
    execFileSync(promtool!, args, { cwd: DIR, encoding: 'utf8', stdio: 'pipe' });

  it('check config: the scrape config and the rule file it loads are valid', (ctx) => {
    if (!promtool) return ctx.skip(why);
    expect(run('check', 'config', 'prometheus.yml')).toContain('SUCCESS');
  });

  it('test rules: every alert fires (and stays quiet) as alerts.test.yml says', (ctx) => {
    if (!promtool) return ctx.skip(why);
    expect(run('test', 'rules', 'alerts.test.yml')).toContain('SUCCESS');
  });
});
