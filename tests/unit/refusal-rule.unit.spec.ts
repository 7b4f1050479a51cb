import { describe, expect, it } from 'vitest';
import { refusalRule } from '../../bench/refusal-rule.ts';
import { refusal } from '../../platform/flow/http.ts';
import type { Blocked } from '../../platform/flow/flow-control.ts';

const bodyOf = (blocked: Partial<Blocked>): string =>
  JSON.stringify({
    title: 'ignored',
    detail: refusal({ resource: 'POST /v1/appointments', retryAfterMs: 1000, ...blocked } as Blocked).detail,
  });

describe('the rule an overload refusal names', () => {
  it('reads a system protection refusal as the gate words it', () => {
    expect(refusalRule(bodyOf({ system: true, rule: 'system-bbr' }))).toBe('system-bbr');
  });

  it('reads a resource rule refusal as the gate words it', () => {
    expect(refusalRule(bodyOf({ system: false, rule: 'adaptive' }))).toBe('adaptive');
  });

  it('names any other problem by its code, else its title, and a body that is not JSON as such', () => {
    expect(
      refusalRule(
        JSON.stringify({
          title: 'A dependency is unavailable',
          code: 'dependency_unavailable',
          detail: 'The search engine is unavailable',
        }),
      ),
    ).toBe('dependency_unavailable');
    expect(
      refusalRule(JSON.stringify({ title: 'Dependency unavailable', detail: 'The database is unavailable' })),
    ).toBe('Dependency unavailable');
    expect(refusalRule('<html>')).toBe('not problem+json');
  });
});
