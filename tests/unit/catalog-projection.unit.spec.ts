import { describe, expect, it } from 'vitest';
import { catalogConnector, renderTemplate } from '../../connectors/catalog-connector.ts';
import {
  decodeChange,
  evolveRow,
  needsPrevious,
  type ChangeEvent,
} from '../../projections/catalog/change-event.ts';
import {
  catalogKeys,
  contentMember,
  doctorMember,
  indexEntries,
  institutionMember,
  institutionSearchDocument,
  memberId,
  ratingRank,
  type Row,
} from '../../read-models/catalog.ts';
import { PoisonError } from '../../projections/runtime/errors.ts';

const U = '__debezium_unavailable_value';

const buf = (v: unknown) => Buffer.from(JSON.stringify(v));

function change(op: ChangeEvent['op'], after: Row | null, lsn = 100, id = '1'): ChangeEvent {
  return {
    kind: 'change',
    op,
    table: 'institutions',
    id,
    before: null,
    after,
    lsn,
    snapshot: op === 'r',
    sourceTsMs: 0,
    tsMs: 0,
  };
}

const institution: Row = {
  id: 7,
  name: '北京协和医院',
  alias_names: ['协和', 'PUMCH'],
  city: '北京',
  district: '东城区',
  level: '三级甲等',
  type: '综合医院',
  tags: ['医保定点'],
  rating: 4.87,
  latitude: 39.91,
  longitude: 116.41,
  status: 'active',
  updated_at: '2026-01-01T00:00:00.123456Z',
};

describe('decodeChange', () => {
  it('decodes a Debezium envelope (JsonConverter without schemas)', () => {
    const e = decodeChange(
      buf({ id: 7 }),
      buf({
        before: null,
        after: institution,
        op: 'c',
        source: { lsn: 123456, table: 'institutions', snapshot: 'false', ts_ms: 1000 },
        ts_ms: 1005,
      }),
    );
    expect(e).toEqual({
      kind: 'change',
      op: 'c',
      table: 'institutions',
      id: '7',
      before: null,
      after: institution,
      lsn: 123456,
      snapshot: false,
      sourceTsMs: 1000,
      tsMs: 1005,
    });
  });

  it('reads a null value as the tombstone of the key', () => {
    expect(decodeChange(buf({ id: 7 }), null)).toEqual({ kind: 'tombstone', id: '7' });
  });

  it('marks snapshot reads and accepts deletes with a key-only before image', () => {
    const r = decodeChange(
      buf({ id: 1 }),
      buf({ op: 'r', after: { id: 1 }, source: { lsn: 5, table: 't' } }),
    );
    expect(r.kind === 'change' && r.snapshot).toBe(true);
    const d = decodeChange(
      buf({ id: 1 }),
      buf({ op: 'd', before: { id: 1 }, after: null, source: { lsn: 6, table: 't' } }),
    );
    expect(d.kind === 'change' && d.op).toBe('d');
  });

  it.each([
    ['no key', null, buf({ op: 'c', after: {}, source: { lsn: 1, table: 't' } })],
    ['not JSON', buf({ id: 1 }), Buffer.from('{oops')],
    ['unknown op', buf({ id: 1 }), buf({ op: 'x', after: {}, source: { lsn: 1, table: 't' } })],
    ['no lsn', buf({ id: 1 }), buf({ op: 'c', after: {}, source: { table: 't' } })],
    ['create without after', buf({ id: 1 }), buf({ op: 'c', after: null, source: { lsn: 1, table: 't' } })],
  ])('rejects %s as poison', (_, key, value) => {
    expect(() => decodeChange(key, value)).toThrow(PoisonError);
  });
});

describe('evolveRow', () => {
  it('copies every column of after, including ones the code has never heard of', () => {
    const row = evolveRow(null, change('u', { ...institution, night_clinic: true, beds: 1200 }));
    expect(row).toEqual({ ...institution, night_clinic: true, beds: 1200 });
  });

  it('drops a column that is no longer in after', () => {
    const { tags: _tags, ...withoutTags } = institution;
    expect(evolveRow(institution, change('u', withoutTags))).toEqual(withoutTags);
  });

  it('keeps the previous value of an unchanged TOASTed column', () => {
    const prev = { ...institution, intro: 'a very long text' };
    const e = change('u', { ...institution, rating: 4.9, intro: U, alias_names: [U] });
    expect(needsPrevious(e)).toBe(true);
    expect(evolveRow(prev, e)).toEqual({ ...prev, rating: 4.9 });
    // without a previous version the column is left out rather than stored as the placeholder
    expect(evolveRow(null, e)).not.toHaveProperty('intro');
  });

  it('turns a delete into null', () => {
    expect(evolveRow(institution, change('d', null))).toBeNull();
  });
});

describe('list-index members', () => {
  it('orders institutions by rating desc, then id asc, lexicographically', () => {
    const members = [
      institutionMember({ id: 2, rating: 4.5 }),
      institutionMember({ id: 10, rating: 4.9 }),
      institutionMember({ id: 1, rating: 4.5 }),
      institutionMember({ id: 3, rating: null }),
      institutionMember({ id: 4, rating: 0 }),
      institutionMember({ id: 5, rating: 5 }),
    ];
    expect([...members].sort().map(memberId)).toEqual(['5', '10', '1', '2', '4', '3']);
    expect(institutionMember({ id: 42, rating: 4.87 })).toBe('013:000000000042');
  });

  it('ranks doctors by title, then rating, then id; content by weight desc', () => {
    const docs = [
      doctorMember({ id: 1, title: '主治医师', rating: 5 }),
      doctorMember({ id: 2, title: '主任医师', rating: 3 }),
      doctorMember({ id: 3, title: '主任医师', rating: 4.5 }),
    ].sort();
    expect(docs.map(memberId)).toEqual(['3', '2', '1']);
    const content = [contentMember({ id: 1, weight: 10 }), contentMember({ id: 2, weight: 90 })].sort();
    expect(content.map(memberId)).toEqual(['2', '1']);
  });

  it('clamps ratings and rejects ids that do not fit', () => {
    expect(ratingRank(7)).toBe('000');
    expect(ratingRank('4.50')).toBe('050');
    expect(() => institutionMember({ id: 'abc', rating: 1 })).toThrow();
  });
});

describe('indexEntries', () => {
  const keys = catalogKeys('p:');

  it('lists an active institution under all, its city and its city+level', () => {
    expect(indexEntries('institutions', institution, keys)).toEqual({
      member: '013:000000000007',
      keys: [
        '{p:}idx:institutions',
        '{p:}idx:institutions:city:北京',
        '{p:}idx:institutions:city:北京:level:三级甲等',
      ],
    });
  });

  it('lists a suspended institution nowhere', () => {
    expect(indexEntries('institutions', { ...institution, status: 'suspended' }, keys)).toEqual({
      member: '',
      keys: [],
    });
  });

  it('lists doctors under their department and institution, content under its tab', () => {
    expect(
      indexEntries(
        'doctors',
        { id: 3, institution_id: 7, department_id: 70, title: '主任医师', rating: 4 },
        keys,
      ).keys,
    ).toEqual(['{p:}idx:doctors:department:70', '{p:}idx:doctors:institution:7']);
    expect(indexEntries('homepage_content', { id: 1, tab: '科普', weight: 5 }, keys).keys).toEqual([
      '{p:}idx:content:tab:科普',
    ]);
  });
});

describe('institutionSearchDocument', () => {
  it('keeps every column and adds a geo_point', () => {
    expect(institutionSearchDocument({ ...institution, beds: 10 })).toEqual({
      ...institution,
      beds: 10,
      location: { lat: 39.91, lon: 116.41 },
    });
    expect(institutionSearchDocument({ id: 1, latitude: null, longitude: null })).not.toHaveProperty(
      'location',
    );
  });
});

describe('catalog connector template', () => {
  it('fills every placeholder from the config and names the slot in the heartbeat query', () => {
    const def = catalogConnector({
      name: 'catalog-source',
      slot: 'catalog_slot',
      publication: 'catalog_publication',
      topicPrefix: 'catalog',
      partitions: 3,
      replicationFactor: 1,
      heartbeatMs: 5000,
      databaseUrl: 'postgres://booking:s%40cret@db.internal:6543/booking',
    });
    expect(def.name).toBe('catalog-source');
    expect(def.config).toMatchObject({
      'database.hostname': 'db.internal',
      'database.port': '6543',
      'database.password': 's@cret',
      'slot.name': 'catalog_slot',
      'publication.autocreate.mode': 'filtered',
      'snapshot.mode': 'initial',
      'tombstones.on.delete': 'true',
      'topic.creation.default.partitions': '3',
    });
    expect(def.config['heartbeat.action.query']).toContain("'catalog_slot'");
    expect(JSON.stringify(def)).not.toContain('${');
  });

  it('refuses a template with an unknown placeholder', () => {
    expect(() => renderTemplate({ name: '${NOPE}', config: {} }, {})).toThrow(/NOPE/);
  });
});
