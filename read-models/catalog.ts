/**
 * The catalog read models, the contract between the CDC projectors (projections/catalog/, the
 * writers) and the query API (the reader): pure functions from a catalog row to what the stores
 * hold — Redis keys, list-index members and the search document.
 *
 * List indexes are sorted sets whose members all have score 0, so Redis orders them
 * lexicographically by member. A member is `<rank>:<id>` with fixed-width fields, so the order is
 * "rank, then id" and a page after a cursor is
 *
 *   ZRANGE <key> (<last member of the previous page> + BYLEX LIMIT 0 <size>
 *
 * which is stable under concurrent writes (keyset pagination, no offsets). The id is the part
 * after the last ':'.
 *
 *   institutions  <500 − rating×100, 3 digits>:<id, 12 digits>   rating desc, then id asc; no rating last
 *   doctors       <title rank, 1 digit>:<500 − rating×100>:<id>  主任医师 first, then rating desc, then id
 *   content       <999999 − weight, 6 digits>:<id>               weight desc, then id
 *   departments   <category>:<id>                                 by category, then id
 */

/** One catalog row as stored: every column of the table, as Debezium delivered it. */
export type Row = Record<string, unknown>;

export type CatalogTable = 'institutions' | 'departments' | 'doctors' | 'homepage_content';
export const CATALOG_TABLES: readonly CatalogTable[] = [
  'institutions',
  'departments',
  'doctors',
  'homepage_content',
];

export const ID_WIDTH = 12;

/** A key column as a string, or undefined when it is absent or not a scalar. */
const scalar = (v: unknown): string | undefined =>
  typeof v === 'number' || typeof v === 'string' ? String(v) : undefined;

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

export function padId(id: unknown): string {
  const s = String(id);
  if (!/^\d+$/.test(s) || s.length > ID_WIDTH)
    throw new Error(`id ${s} does not fit the index member format`);
  return s.padStart(ID_WIDTH, '0');
}

/** 000 for rating 5.00 … 500 for 0.00; 999 when there is no rating. */
export function ratingRank(rating: unknown): string {
  const r = typeof rating === 'number' ? rating : typeof rating === 'string' ? Number(rating) : NaN;
  if (!Number.isFinite(r)) return '999';
  return pad(500 - Math.round(Math.min(5, Math.max(0, r)) * 100), 3);
}

const TITLE_RANK: Record<string, number> = { 主任医师: 1, 副主任医师: 2, 主治医师: 3, 住院医师: 4 };

export const institutionMember = (row: Row): string => `${ratingRank(row.rating)}:${padId(row.id)}`;

export const doctorMember = (row: Row): string =>
  `${TITLE_RANK[String(row.title)] ?? 9}:${ratingRank(row.rating)}:${padId(row.id)}`;

export function contentMember(row: Row): string {
  const w = typeof row.weight === 'number' ? Math.round(row.weight) : 0;
  return `${pad(999_999 - Math.min(999_999, Math.max(0, w)), 6)}:${padId(row.id)}`;
}

export const departmentMember = (row: Row): string => `${String(row.category)}:${padId(row.id)}`;

/** The id encoded in an index member. */
export const memberId = (member: string): string => String(Number(member.slice(member.lastIndexOf(':') + 1)));

/**
 * What every catalog key under the configured prefix starts with: the prefix as a Redis Cluster
 * hash tag (`{catalog:}`), so the whole catalog read model is one hash slot (docs/adr/0020). The
 * apply script of a department touches its institution's document and category indexes, and
 * readers pipeline documents of many rows: both stay on one node.
 */
export const catalogKeyPrefix = (prefix: string): string => `{${prefix}}`;

/** Redis key layout under one prefix (e.g. `catalog:`, keys `{catalog:}institutions:1`, …). */
export function catalogKeys(prefix: string) {
  const p = catalogKeyPrefix(prefix);
  return {
    /** The configured prefix (what CATALOG_REDIS_PREFIX says). */
    prefix,
    /** What every key starts with: the prefix as a hash tag. */
    keyPrefix: p,
    doc: (table: CatalogTable, id: string | number) => `${p}${table}:${id}`,
    /** category → number of the institution's departments in it */
    institutionCategories: (id: string | number) => `${p}institutions:${id}:categories`,
    institutionsAll: `${p}idx:institutions`,
    institutionsByCity: (city: string) => `${p}idx:institutions:city:${city}`,
    institutionsByCityLevel: (city: string, level: string) =>
      `${p}idx:institutions:city:${city}:level:${level}`,
    /** Institutions with at least one department in the category (maintained from departments). */
    institutionsByCategoryPrefix: `${p}idx:institutions:category:`,
    institutionsByCategory: (category: string) => `${p}idx:institutions:category:${category}`,
    departmentsByInstitution: (id: string | number) => `${p}idx:departments:institution:${id}`,
    doctorsByDepartment: (id: string | number) => `${p}idx:doctors:department:${id}`,
    doctorsByInstitution: (id: string | number) => `${p}idx:doctors:institution:${id}`,
    contentByTab: (tab: string) => `${p}idx:content:tab:${tab}`,
  };
}

export type CatalogKeys = ReturnType<typeof catalogKeys>;

export interface IndexEntries {
  /** The member this row has in every one of `keys` ('' when it is in none). */
  member: string;
  keys: string[];
}

/**
 * The list indexes a row belongs to. Institutions only while `status = 'active'` (their document
 * stays readable by id either way); the category indexes are maintained from departments.
 */
export function indexEntries(table: CatalogTable, row: Row, keys: CatalogKeys): IndexEntries {
  switch (table) {
    case 'institutions': {
      if (row.status !== 'active') return { member: '', keys: [] };
      const out = [keys.institutionsAll];
      if (typeof row.city === 'string') {
        out.push(keys.institutionsByCity(row.city));
        if (typeof row.level === 'string') out.push(keys.institutionsByCityLevel(row.city, row.level));
      }
      return { member: institutionMember(row), keys: out };
    }
    case 'departments': {
      const institution = scalar(row.institution_id);
      return {
        member: departmentMember(row),
        keys: institution === undefined ? [] : [keys.departmentsByInstitution(institution)],
      };
    }
    case 'doctors': {
      const out: string[] = [];
      const department = scalar(row.department_id);
      const institution = scalar(row.institution_id);
      if (department !== undefined) out.push(keys.doctorsByDepartment(department));
      if (institution !== undefined) out.push(keys.doctorsByInstitution(institution));
      return { member: doctorMember(row), keys: out };
    }
    case 'homepage_content':
      return {
        member: contentMember(row),
        keys: typeof row.tab === 'string' ? [keys.contentByTab(row.tab)] : [],
      };
  }
}

/**
 * The search document: every column as is (so a new column reaches the index without a code
 * change) plus `location` (geo_point) built from latitude/longitude.
 */
export function institutionSearchDocument(row: Row): Record<string, unknown> {
  const doc: Record<string, unknown> = { ...row };
  const { latitude, longitude } = row;
  if (typeof latitude === 'number' && typeof longitude === 'number') {
    doc.location = { lat: latitude, lon: longitude };
  }
  return doc;
}
