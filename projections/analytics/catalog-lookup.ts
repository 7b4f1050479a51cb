/**
 * The catalog facts an analytics document carries, read from the PostgreSQL catalog tables per
 * batch (one query of three indexed `id = ANY` lookups, no cache): the tables are the catalog's source of
 * truth, committed before Debezium emits the change that renames existing documents, so a
 * document written after a rename never brings an old name back (docs/adr/0019).
 * Catalog ids are bigints: ids that are not integers are not looked up. A missing table (the
 * catalog not migrated yet) degrades to ids, with one warning.
 */
import type { Logger } from '../../platform/logger.ts';
import { type Queryable, sqlState } from '../../platform/pg.ts';
import type { CatalogFacts } from './analytics-model.ts';

export interface CatalogRequest {
  institutions: readonly string[];
  departments: readonly string[];
  doctors: readonly string[];
}

export interface CatalogLookup {
  facts(request: CatalogRequest): Promise<CatalogFacts>;
}

export const noCatalog: CatalogLookup = {
  facts: () => Promise.resolve({ institutions: new Map(), departments: new Map(), doctors: new Map() }),
};

const numericIds = (ids: readonly string[]) => [...new Set(ids)].filter((id) => /^\d{1,18}$/.test(id));

interface FactRow {
  kind: 'i' | 'd' | 'o';
  id: string;
  name: string;
  city: string | null;
  district: string | null;
  level: string | null;
  type: string | null;
  category: string | null;
  title: string | null;
}

/** One round trip for the three tables (a batch's lookup costs one indexed query). */
const FACTS_SQL = `
  SELECT 'i' AS kind, id::text AS id, name, city, district, level, type,
         NULL::text AS category, NULL::text AS title
    FROM institutions WHERE id = ANY($1::bigint[])
  UNION ALL
  SELECT 'd', id::text, name, NULL, NULL, NULL, NULL, category, NULL
    FROM departments WHERE id = ANY($2::bigint[])
  UNION ALL
  SELECT 'o', id::text, name, NULL, NULL, NULL, NULL, NULL, title
    FROM doctors WHERE id = ANY($3::bigint[])`;

export function pgCatalogLookup(db: Queryable, opts: { logger?: Logger } = {}): CatalogLookup {
  let warned = false;
  return {
    async facts(request) {
      const out: CatalogFacts = { institutions: new Map(), departments: new Map(), doctors: new Map() };
      const ids = [request.institutions, request.departments, request.doctors].map(numericIds);
      if (ids.every((list) => list.length === 0)) return out;
      let rows: FactRow[];
      try {
        rows = (await db.query<FactRow>(FACTS_SQL, ids)).rows;
      } catch (err) {
        const code = sqlState(err);
        if (code !== '42P01' && code !== '42703') throw err; // undefined table / column
        if (!warned) opts.logger?.warn('catalog tables missing: analytics documents carry ids only');
        warned = true;
        return out;
      }
      for (const r of rows) {
        if (r.kind === 'i') {
          const { name, city, district, level, type } = r;
          out.institutions.set(r.id, { name, city, district, level, type });
        } else if (r.kind === 'd') out.departments.set(r.id, { name: r.name, category: r.category });
        else out.doctors.set(r.id, { name: r.name, title: r.title });
      }
      return out;
    },
  };
}
