import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = join(import.meta.dirname, '..', '..');

interface Rules {
  groups: { rules: { alert?: string; record?: string; expr: string }[] }[];
}

/** Every `name: '<metric>'` a prom-client metric is registered under, in the platform's code. */
function registeredMetrics(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      if (
        ['node_modules', 'dist', 'clients', 'contracts', 'tests', 'bench'].includes(entry) ||
        entry.startsWith('.')
      )
        continue;
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (entry.endsWith('.ts')) {
        for (const m of readFileSync(path, 'utf8').matchAll(/name: '([a-z_]+)'/g)) names.add(m[1]!);
      }
    }
  };
  walk(ROOT);
  return names;
}

describe('alert rules name metrics the code exports', () => {
  it('every metric an alert or recording rule reads is registered somewhere (no silent drift)', () => {
    const rules = parse(readFileSync(join(ROOT, 'infra', 'prometheus', 'alerts.yml'), 'utf8')) as Rules;
    const registered = registeredMetrics();
    const recorded = new Set(
      rules.groups.flatMap((g) => g.rules.flatMap((r) => (r.record ? [r.record] : []))),
    );
    const read = rules.groups.flatMap((g) =>
      g.rules.flatMap((r) =>
        [
          ...r.expr.matchAll(/\b([a-z][a-z0-9_]*_(?:seconds|events|total|pid)(?:_bucket|_count|_sum)?)\b/g),
        ].map((m) => m[1]!),
      ),
    );
    expect(read.length).toBeGreaterThan(5);
    const missing = read
      .map((name) => name.replace(/_(bucket|count|sum)$/, ''))
      .filter((name) => !registered.has(name) && !recorded.has(name));
    expect(missing).toEqual([]);
  });
});
