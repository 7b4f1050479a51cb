import { describe, expect, it } from 'vitest';
import { toBulkBody } from '../../platform/search/bulk-lines.ts';
import type { BulkOperation } from '../../platform/search/search-engine.ts';

/** The body as the clients' ndserialize made it from action/source objects (the former way). */
function objectLines(operations: BulkOperation[]): string {
  let body = '';
  for (const op of operations) {
    const meta: Record<string, unknown> = { _index: op.index, _id: op.id };
    if (op.version !== undefined) {
      meta.version = op.version;
      meta.version_type = 'external';
    }
    body += `${JSON.stringify(op.action === 'index' ? { index: meta } : { delete: meta })}\n`;
    if (op.action === 'index') body += `${JSON.stringify(op.document)}\n`;
  }
  return body;
}

describe('toBulkBody', () => {
  const operations: BulkOperation[] = [
    {
      action: 'index',
      index: 'appointments-v1',
      id: 'a-1',
      version: 7,
      document: { name: 'Dr "Quote" \\ 王医生\nline', n: 3, nested: { ok: true }, none: null },
    },
    { action: 'index', index: 'idx', id: 'plain', document: {} },
    { action: 'delete', index: 'idx', id: 'gone', version: 0 },
    { action: 'delete', index: 'idx"odd', id: 'id\u2028x' },
  ];

  it('is the NDJSON the action/source objects serialise to, byte for byte', () => {
    expect(toBulkBody(operations)).toBe(objectLines(operations));
  });

  it('has one line per action and source, each a JSON document, ending with a newline', () => {
    const body = toBulkBody(operations);
    expect(body.endsWith('\n')).toBe(true);
    const lines = body.slice(0, -1).split('\n');
    expect(lines).toHaveLength(6);
    expect(JSON.parse(lines[0]!)).toEqual({
      index: { _index: 'appointments-v1', _id: 'a-1', version: 7, version_type: 'external' },
    });
    expect(JSON.parse(lines[1]!)).toEqual(operations[0]!.action === 'index' ? operations[0]!.document : {});
    expect(JSON.parse(lines[4]!)).toEqual({
      delete: { _index: 'idx', _id: 'gone', version: 0, version_type: 'external' },
    });
  });

  it('is empty for no operations', () => {
    expect(toBulkBody([])).toBe('');
  });
});
