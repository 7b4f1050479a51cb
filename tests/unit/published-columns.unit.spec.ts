import { describe, expect, it } from 'vitest';
import { publish } from '../../read-models/published-columns.ts';
import { institution } from '../../query-api/response-schemas.ts';

const storedRow = {
  id: 7,
  name: '协和医院',
  alias_names: ['协和'],
  city: '北京',
  district: '东城区',
  address: null,
  level: '三级甲等',
  type: '综合医院',
  tags: [],
  rating: 4.9,
  latitude: 39.9,
  longitude: 116.4,
  status: 'active',
  created_at: '2026-11-01T00:00:00Z',
  updated_at: '2026-11-02T00:00:00Z',
  // added for internal use, and one dropped since (old row images still carry it)
  contact_phone_private: '+86 10 0000 0000',
  legacy_code: 'X-1',
};

describe('published catalog columns', () => {
  it('keeps the listed columns and drops every other, as the OpenAPI schema demands', () => {
    const served = publish('institutions', storedRow);
    expect(served).not.toHaveProperty('contact_phone_private');
    expect(served).not.toHaveProperty('legacy_code');
    expect(served).not.toHaveProperty('created_at');
    expect(served).toMatchObject({ id: 7, name: '协和医院', rating: 4.9, status: 'active' });
    expect(institution.safeParse({ institution: served }).success).toBe(true);
    // The response schema is strict: a leaked column would fail the contract test.
    expect(institution.safeParse({ institution: storedRow }).success).toBe(false);
  });

  it('leaves out a published column the row does not have yet, rather than inventing it', () => {
    const { district: _d, ...older } = storedRow;
    const served = publish('institutions', older);
    expect(served).not.toHaveProperty('district');
    expect(institution.safeParse({ institution: served }).success).toBe(true);
  });
});
