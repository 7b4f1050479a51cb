/**
 * Thin Redis writer for catalog change events. Each event becomes one call of a Lua script that
 * applies it atomically and only if its LSN is newer than the one stored for the row:
 *
 *   <prefix><table>:<id>  hash  doc (JSON of every column), lsn, member, zkeys (JSON list of the
 *                               list indexes the row is in), and for departments inst + cat.
 *                               A delete leaves a tombstone: {lsn, deleted: 1}, so a replayed
 *                               older insert or update cannot resurrect the row.
 *
 * The script moves the row's list-index memberships (ZREM from the old keys with the old member,
 * ZADD to the new ones), and keeps the "institutions by department category" indexes: a
 * department counts towards (institution, category) in `<prefix>institutions:<id>:categories`;
 * the institution is in the category's index while that count is > 0 and it is listed.
 * Events of a batch are pipelined in order; replays and redeliveries are no-ops.
 *
 * Redis Cluster (docs/adr/0020): KEYS[1], the row's document, routes the call. The other keys the
 * script touches depend on what is stored (the row's old list indexes, its institution's
 * categories), so they are named inside the script from ARGV and stored fields; every one of them
 * is under the same `{prefix}` hash tag as KEYS[1] (read-models/catalog.ts), which Redis Cluster
 * accepts (Redis 7 checks that a script's keys share the slot of its declared ones).
 */
import type { RedisClient } from '../../platform/redis.ts';
import type { ChainableCommander } from 'ioredis';
import { indexEntries, type CatalogKeys, type CatalogTable, type Row } from '../../read-models/catalog.ts';
import { evolveRow, needsPrevious, type ChangeEvent } from './change-event.ts';

const APPLY_LUA = `
local lsn = tonumber(ARGV[1])
local stored = redis.call('HGET', KEYS[1], 'lsn')
if stored and tonumber(stored) >= lsn then return 0 end
local upsert = ARGV[2] == 'upsert'
local member = ''
if upsert then member = ARGV[4] end
local mode = ARGV[6]
local instPrefix = ARGV[7]
local catPrefix = ARGV[8]

local oldMember = redis.call('HGET', KEYS[1], 'member')
local oldKeys = redis.call('HGET', KEYS[1], 'zkeys')
-- A member that stays in a key is left there: a ZREM and ZADD of it would tell every subscriber
-- (the query APIs' keyspace invalidation) that the list changed, and a ZADD of a member already
-- there with its score notifies nothing. An update that moves no list entry invalidates no list.
local kept = {}
if upsert and member ~= '' and oldMember == member then
  for _, k in ipairs(cjson.decode(ARGV[5])) do kept[k] = true end
end
if oldMember and oldMember ~= '' and oldKeys then
  for _, k in ipairs(cjson.decode(oldKeys)) do
    if not kept[k] then redis.call('ZREM', k, oldMember) end
  end
end

if mode == 'institution' then
  local cats = redis.call('HKEYS', KEYS[1] .. ':categories')
  for _, c in ipairs(cats) do
    if oldMember and oldMember ~= '' and oldMember ~= member then redis.call('ZREM', catPrefix .. c, oldMember) end
    if member ~= '' then redis.call('ZADD', catPrefix .. c, 0, member) end
  end
elseif mode == 'department' then
  local oldInst = redis.call('HGET', KEYS[1], 'inst')
  local oldCat = redis.call('HGET', KEYS[1], 'cat')
  if oldInst and oldCat then
    local ck = instPrefix .. oldInst .. ':categories'
    if redis.call('HINCRBY', ck, oldCat, -1) <= 0 then
      redis.call('HDEL', ck, oldCat)
      local m = redis.call('HGET', instPrefix .. oldInst, 'member')
      if m and m ~= '' then redis.call('ZREM', catPrefix .. oldCat, m) end
    end
  end
  if upsert then
    local ck = instPrefix .. ARGV[9] .. ':categories'
    if redis.call('HINCRBY', ck, ARGV[10], 1) == 1 then
      local m = redis.call('HGET', instPrefix .. ARGV[9], 'member')
      if m and m ~= '' then redis.call('ZADD', catPrefix .. ARGV[10], 0, m) end
    end
  end
end

redis.call('DEL', KEYS[1])
if not upsert then
  redis.call('HSET', KEYS[1], 'lsn', ARGV[1], 'deleted', '1')
  return 1
end
if member ~= '' then
  for _, k in ipairs(cjson.decode(ARGV[5])) do redis.call('ZADD', k, 0, member) end
end
redis.call('HSET', KEYS[1], 'lsn', ARGV[1], 'doc', ARGV[3], 'member', member, 'zkeys', ARGV[5])
if mode == 'department' then redis.call('HSET', KEYS[1], 'inst', ARGV[9], 'cat', ARGV[10]) end
return 1
`;

type ApplyArgs = [key: string, ...args: string[]];

interface CatalogCommands {
  catalogApply(...args: ApplyArgs): Promise<number>;
}
type CatalogPipeline = ChainableCommander & { catalogApply(...args: ApplyArgs): ChainableCommander };

export interface ApplyResult {
  applied: number;
  stale: number;
}

export interface StoredDoc {
  doc: Row | null;
  lsn: number;
  deleted: boolean;
}

export class RedisCatalogWriter {
  private readonly redis: RedisClient & CatalogCommands;

  constructor(
    redis: RedisClient,
    private readonly keys: CatalogKeys,
  ) {
    if (!('catalogApply' in redis)) redis.defineCommand('catalogApply', { numberOfKeys: 1, lua: APPLY_LUA });
    this.redis = redis as RedisClient & CatalogCommands;
  }

  /** The stored row of `table` with `id`, with its LSN; null if never seen. */
  async get(table: CatalogTable, id: string): Promise<StoredDoc | null> {
    const [doc, lsn, deleted] = await this.redis.hmget(this.keys.doc(table, id), 'doc', 'lsn', 'deleted');
    if (lsn === null) return null;
    return { doc: doc ? (JSON.parse(doc) as Row) : null, lsn: Number(lsn), deleted: deleted === '1' };
  }

  /** Applies the events of one table in order; returns how many changed Redis and how many were stale. */
  async apply(table: CatalogTable, events: readonly ChangeEvent[]): Promise<ApplyResult> {
    if (events.length === 0) return { applied: 0, stale: 0 };
    // The row as this batch leaves it, for events that need the previous version (unchanged TOAST).
    const latest = new Map<string, Row | null>();
    const pipeline = this.redis.pipeline() as CatalogPipeline;
    const mode = table === 'institutions' ? 'institution' : table === 'departments' ? 'department' : 'plain';
    for (const event of events) {
      let previous: Row | null = null;
      if (needsPrevious(event)) {
        previous = latest.has(event.id)
          ? (latest.get(event.id) ?? null)
          : ((await this.get(table, event.id))?.doc ?? null);
      }
      const row = evolveRow(previous, event);
      latest.set(event.id, row);
      const key = this.keys.doc(table, event.id);
      const common = [this.keys.doc('institutions', ''), this.keys.institutionsByCategoryPrefix];
      if (row === null) {
        pipeline.catalogApply(key, String(event.lsn), 'delete', '', '', '[]', mode, ...common);
        continue;
      }
      const { member, keys } = indexEntries(table, row, this.keys);
      pipeline.catalogApply(
        key,
        String(event.lsn),
        'upsert',
        JSON.stringify(row),
        member,
        JSON.stringify(keys),
        mode,
        ...common,
        ...(mode === 'department' ? [String(row.institution_id), String(row.category)] : []),
      );
    }
    const results = (await pipeline.exec()) ?? [];
    let applied = 0;
    for (const [err, value] of results) {
      if (err) throw err;
      if (value === 1) applied += 1;
    }
    return { applied, stale: results.length - applied };
  }
}
