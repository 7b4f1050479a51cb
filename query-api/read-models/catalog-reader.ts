import type { RedisClient } from '../../platform/redis.ts';
import {
  catalogKeys,
  memberId,
  type CatalogKeys,
  type CatalogTable,
  type Row,
} from '../../read-models/catalog.ts';
import type { Deps } from './redis-reads.ts';

/**
 * The `doc` field of every key, in order (false, so nil, for a missing one): one command instead
 * of a pipeline of HGETs, whose per-command cost on both ends made most of a page reload's CPU
 * under the mixed benchmark. The catalog is one hash slot (`catalogKeyPrefix`), so it runs on a
 * cluster too.
 */
const DOCS_LUA = `local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call('HGET', key, 'doc') end
return out`;

type DocsClient = RedisClient & {
  catalogDocs(numKeys: number, ...keys: string[]): Promise<(string | null)[]>;
};

export interface Page<T> {
  items: T[];
  /** Index member of the last item, to continue after it; undefined on the last page. */
  next: string | undefined;
}

/**
 * Reads the catalog read models the CDC projectors keep (read-models/catalog.ts):
 * row documents as JSON in `<prefix><table>:<id>` and lexicographically ordered list indexes.
 */
export class CatalogReader {
  readonly keys: CatalogKeys;

  private readonly redis: DocsClient;

  constructor(redis: RedisClient, prefix: string) {
    this.keys = catalogKeys(prefix);
    if (!('catalogDocs' in redis)) redis.defineCommand('catalogDocs', { lua: DOCS_LUA });
    this.redis = redis as DocsClient;
  }

  async doc(table: CatalogTable, id: string, deps: Deps): Promise<Row | null> {
    const key = this.keys.doc(table, id);
    deps.add(key);
    const doc = await this.redis.hget(key, 'doc');
    return doc ? (JSON.parse(doc) as Row) : null;
  }

  async docs(table: CatalogTable, ids: readonly string[], deps: Deps): Promise<Row[]> {
    if (ids.length === 0) return [];
    const keys = ids.map((id) => this.keys.doc(table, id));
    deps.add(...keys);
    const docs = await this.redis.catalogDocs(keys.length, ...keys);
    return docs.filter((d): d is string => typeof d === 'string').map((d) => JSON.parse(d) as Row);
  }

  /** One keyset page of an index: members strictly after `after`, in index order. */
  async page(
    table: CatalogTable,
    indexKey: string,
    after: string | undefined,
    limit: number,
    deps: Deps,
  ): Promise<Page<Row>> {
    deps.add(indexKey);
    const members = await this.redis.zrange(
      indexKey,
      after ? `(${after}` : '-',
      '+',
      'BYLEX',
      'LIMIT',
      0,
      limit + 1,
    );
    const pageMembers = members.slice(0, limit);
    const items = await this.docs(table, pageMembers.map(memberId), deps);
    return { items, next: members.length > limit ? pageMembers.at(-1) : undefined };
  }

  /**
   * Content of a tab for a city, inside its publish window at `now`, highest weight first.
   * Filtering happens here, so it reads ahead in chunks until the page is full or the tab ends.
   */
  async content(tab: string, city: string, now: Date, size: number, deps: Deps): Promise<Row[]> {
    const key = this.keys.contentByTab(tab);
    deps.add(key);
    const out: Row[] = [];
    let after: string | undefined;
    for (let round = 0; round < 10 && out.length < size; round++) {
      const page = await this.page('homepage_content', key, after, Math.max(size * 3, 10), deps);
      for (const row of page.items) {
        if (out.length >= size) break;
        if (isVisible(row, city, now)) out.push(row);
      }
      if (!page.next) break;
      after = page.next;
    }
    return out;
  }
}

function isVisible(row: Row, city: string, now: Date): boolean {
  if (row.city !== null && row.city !== undefined && row.city !== city) return false;
  const starts = typeof row.starts_at === 'string' ? Date.parse(row.starts_at) : NaN;
  const ends = typeof row.ends_at === 'string' ? Date.parse(row.ends_at) : Infinity;
  const t = now.getTime();
  return (Number.isNaN(starts) || starts <= t) && t < ends;
}
