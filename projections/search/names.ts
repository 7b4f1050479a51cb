/**
 * Display names for the ids events carry. Pluggable: the catalog (issue 5's `institutions`,
 * `departments`, `doctors` tables) when it exists, else the ids themselves.
 */
import { LRUCache } from 'lru-cache';
import type { Logger } from '../../platform/logger.ts';
import { type Queryable, sqlState } from '../../platform/pg.ts';

export interface NameRequest {
  institutions: readonly string[];
  departments: readonly string[];
  doctors: readonly string[];
}

export interface ResolvedNames {
  institutions: Map<string, string>;
  departments: Map<string, string>;
  doctors: Map<string, string>;
}

export interface NameResolver {
  /** Names of those ids it knows; unknown ids are simply absent (the caller keeps the id). */
  resolve(request: NameRequest): Promise<ResolvedNames>;
}

export const idsOnly: NameResolver = {
  resolve: () => Promise.resolve({ institutions: new Map(), departments: new Map(), doctors: new Map() }),
};

const TABLES = { institutions: 'institutions', departments: 'departments', doctors: 'doctors' } as const;
type Kind = keyof typeof TABLES;

/**
 * Names from the catalog tables, cached (default 60 s, so a renamed doctor shows up in new
 * documents within a minute; documents already written keep the old name until a rebuild).
 * Catalog ids are bigints: ids that are not integers are not looked up. A missing table or
 * column (the catalog not migrated yet) degrades to ids, with one warning.
 */
export function catalogNames(
  db: Queryable,
  opts: { logger?: Logger; ttlMs?: number; max?: number } = {},
): NameResolver {
  const cache = new LRUCache<string, string>({ max: opts.max ?? 50_000, ttl: opts.ttlMs ?? 60_000 });
  const missing = new LRUCache<string, true>({ max: opts.max ?? 50_000, ttl: opts.ttlMs ?? 60_000 });
  let warned = false;

  async function lookup(kind: Kind, ids: readonly string[], out: Map<string, string>): Promise<void> {
    const wanted: string[] = [];
    for (const id of new Set(ids)) {
      const hit = cache.get(`${kind}:${id}`);
      if (hit !== undefined) out.set(id, hit);
      else if (/^\d{1,18}$/.test(id) && !missing.has(`${kind}:${id}`)) wanted.push(id);
    }
    if (wanted.length === 0) return;
    try {
      const { rows } = await db.query<{ id: string; name: string }>(
        `SELECT id::text AS id, name FROM ${TABLES[kind]} WHERE id = ANY($1::bigint[])`,
        [wanted],
      );
      for (const row of rows) {
        cache.set(`${kind}:${row.id}`, row.name);
        out.set(row.id, row.name);
      }
      for (const id of wanted) if (!out.has(id)) missing.set(`${kind}:${id}`, true);
    } catch (err) {
      const code = sqlState(err);
      if (code !== '42P01' && code !== '42703') throw err; // undefined table / column
      if (!warned) opts.logger?.warn({ table: TABLES[kind] }, 'catalog table missing: using ids as names');
      warned = true;
    }
  }

  return {
    async resolve(request) {
      const names: ResolvedNames = { institutions: new Map(), departments: new Map(), doctors: new Map() };
      await Promise.all([
        lookup('institutions', request.institutions, names.institutions),
        lookup('departments', request.departments, names.departments),
        lookup('doctors', request.doctors, names.doctors),
      ]);
      return names;
    },
  };
}
