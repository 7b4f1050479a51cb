/** The committed client types (clients/*.d.ts) are what `npm run clients:generate` makes of the documents. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLIENTS_DIR, generateClientTypes } from '../../clients/generate.ts';

describe('generated clients', () => {
  it('match the OpenAPI documents (run `npm run clients:generate` after changing a route spec)', async () => {
    const generated = await generateClientTypes();
    expect(Object.keys(generated).sort()).toEqual(['command-api.d.ts', 'query-api.d.ts']);
    for (const [file, text] of Object.entries(generated)) {
      expect(readFileSync(join(CLIENTS_DIR, file), 'utf8'), `clients/${file} is stale`).toBe(text);
    }
  }, 30_000);
});
