import { describe, expect, it } from 'vitest';
import { arrayLiteral, copyLine } from '../../infra/seed/copy-text.ts';
import { COLUMNS, generateCatalog } from '../../infra/seed/generate.ts';

const small = { institutions: 60, cities: 6, doctors: 200, content: 20 };

describe('catalog seed generator', () => {
  it('is deterministic for a given seed and differs across seeds', () => {
    const a = generateCatalog({ ...small, seed: 1 });
    const b = generateCatalog({ ...small, seed: 1 });
    const c = generateCatalog({ ...small, seed: 2 });
    for (const table of ['institutions', 'departments', 'doctors', 'homepage_content'] as const) {
      expect([...b.rows[table]()]).toEqual([...a.rows[table]()]);
    }
    expect([...c.rows.institutions()]).not.toEqual([...a.rows.institutions()]);
  });

  it('produces rows matching the column lists, unique names per city, doctors in their institution', () => {
    const cat = generateCatalog({ ...small, seed: 3 });
    const institutions = [...cat.rows.institutions()];
    const departments = [...cat.rows.departments()];
    expect(institutions).toHaveLength(60);
    for (const row of institutions) expect(row).toHaveLength(COLUMNS.institutions.length);
    const names = institutions.map((r) => `${String(r[3])}/${String(r[1])}`);
    expect(new Set(names).size).toBe(names.length);
    expect(new Set(institutions.map((r) => r[3])).size).toBe(6);
    const deptInstitution = new Map(departments.map((d) => [d[0], d[1]]));
    for (const doc of cat.rows.doctors()) expect(deptInstitution.get(doc[2])).toBe(doc[1]);
    expect(departments.length / 60).toBeGreaterThan(6);
  });
});

describe('COPY text encoding', () => {
  it('escapes COPY specials and quotes array elements', () => {
    expect(copyLine([1, 'a\tb\\c\nd', null, ['协和', 'say "hi"', 'back\\slash']])).toBe(
      '1\ta\\tb\\\\c\\nd\t\\N\t{"协和","say \\\\"hi\\\\"","back\\\\\\\\slash"}\n',
    );
    expect(arrayLiteral([])).toBe('{}');
  });
});
