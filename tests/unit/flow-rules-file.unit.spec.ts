/**
 * FLOW_RULES_FILE: a deployment's own file default replaces the built-in rules, and a bad file
 * stops the process at start with the file's name, not at the first request.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultFlowRules, fileDefaultFlowRules } from '../../platform/flow/default-rules.ts';

const dir = mkdtempSync(join(tmpdir(), 'flow-rules-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fileWith = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('fileDefaultFlowRules', () => {
  it('given no file, then the built-in defaults', () => {
    expect(fileDefaultFlowRules(undefined)()).toEqual(defaultFlowRules());
  });

  it('given a valid document, then its rules, defaults of the schema filled in', () => {
    const path = fileWith(
      'ok.json',
      JSON.stringify({ resources: { 'POST /v1/appointments': [{ kind: 'adaptive', gain: 3 }] } }),
    );
    const rules = fileDefaultFlowRules(path)();
    expect(rules.resources['POST /v1/appointments']).toEqual([
      { kind: 'adaptive', gain: 3, minInFlight: 8, coldInFlight: 64, maxQueueMs: 0 },
    ]);
    expect(rules.resources['GET /v1/search/institutions']).toBeUndefined();
  });

  it.each([
    ['not JSON', '{ resources:'],
    ['an unknown rule kind', JSON.stringify({ resources: { r: [{ kind: 'teleport' }] } })],
  ])('given %s, then start fails naming the file', (_, text) => {
    const path = fileWith('bad.json', text);
    expect(() => fileDefaultFlowRules(path)).toThrow(
      /FLOW_RULES_FILE .*bad\.json: not a valid flow-rules document/,
    );
  });

  it('given a missing file, then start fails naming it', () => {
    expect(() => fileDefaultFlowRules(join(dir, 'absent.json'))).toThrow(/absent\.json/);
  });
});
