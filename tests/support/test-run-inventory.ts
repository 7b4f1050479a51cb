/**
 * What a test run may leave on the shared engines, counted the same way before and after: the
 * global teardown removes everything carrying the run's tag, then compares the engines with the
 * snapshot taken before the run, and fails the run on any difference.
 */
import { Kafka, logLevel } from 'kafkajs';
import { Redis } from 'ioredis';
import pg from 'pg';
import { scanKeys } from './redis-keys.ts';

export interface Engines {
  adminUrl: string;
  kafkaBrokers: string[];
  connectUrl: string;
  searchUrl: string;
  redisUrl: string;
}

export interface Inventory {
  databases: string[];
  slots: string[];
  topics: string[];
  groups: string[];
  connectors: string[];
  indices: string[];
  aliases: string[];
  /** Keys without a time to live (keys that expire on their own, rate-limit windows say, would make the count flicker). */
  redisKeys: number;
  /** Rows in the platform's event store and records on its topic: a test that wrote there shows here. */
  platformEvents: number | null;
  platformTopicRecords: number | null;
}

async function withPg<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'test-run' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function json<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${url} -> ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

const kafkaOf = (e: Engines) =>
  new Kafka({ clientId: 'test-run', brokers: e.kafkaBrokers, logLevel: logLevel.NOTHING });

async function withKafkaAdmin<T>(
  e: Engines,
  fn: (admin: ReturnType<Kafka['admin']>) => Promise<T>,
): Promise<T> {
  const admin = kafkaOf(e).admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

async function withRedis<T>(e: Engines, fn: (r: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(e.redisUrl, { maxRetriesPerRequest: 2, lazyConnect: true });
  await redis.connect();
  try {
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

/** `INFO keyspace` of the selected db: `keys=N,expires=M,…`; N − M keys never expire. */
async function persistentKeys(redis: Redis): Promise<number> {
  const info = await redis.info('keyspace');
  const db = redis.options.db ?? 0;
  const m = new RegExp(`^db${db}:keys=(\\d+),expires=(\\d+)`, 'm').exec(info);
  return m ? Number(m[1]) - Number(m[2]) : 0;
}

async function platformEvents(e: Engines): Promise<number | null> {
  const exists = await withPg(e.adminUrl, (c) =>
    c.query(`SELECT 1 FROM pg_database WHERE datname = 'booking'`),
  );
  if (exists.rowCount === 0) return null;
  const url = new URL(e.adminUrl);
  url.pathname = '/booking';
  return withPg(url.href, async (c) => {
    const table = await c.query(`SELECT to_regclass('public.events') AS t`);
    if (!(table.rows[0] as { t: string | null }).t) return null;
    const r = await c.query<{ n: string }>('SELECT count(*) AS n FROM events');
    return Number(r.rows[0]?.n ?? 0);
  });
}

export async function takeInventory(e: Engines): Promise<Inventory> {
  const { databases, slots } = await withPg(e.adminUrl, async (c) => ({
    databases: (await c.query<{ d: string }>('SELECT datname AS d FROM pg_database ORDER BY 1')).rows.map(
      (r) => r.d,
    ),
    slots: (
      await c.query<{ s: string }>('SELECT slot_name AS s FROM pg_replication_slots ORDER BY 1')
    ).rows.map((r) => r.s),
  }));
  const { topics, groups, platformTopicRecords } = await withKafkaAdmin(e, async (admin) => {
    const topics = (await admin.listTopics()).filter((t) => !t.startsWith('__consumer_offsets')).sort();
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).sort();
    const records = topics.includes('booking.events')
      ? (await admin.fetchTopicOffsets('booking.events')).reduce((n, p) => n + Number(p.high), 0)
      : null;
    return { topics, groups, platformTopicRecords: records };
  });
  const connectors = (await json<string[]>(`${e.connectUrl}/connectors`)).sort();
  const indices = (await json<{ index: string }[]>(`${e.searchUrl}/_cat/indices?format=json`))
    .map((i) => i.index)
    .filter((i) => !i.startsWith('.'))
    .sort();
  const aliases = (await json<{ alias: string; index: string }[]>(`${e.searchUrl}/_cat/aliases?format=json`))
    .filter((a) => !a.alias.startsWith('.'))
    .map((a) => `${a.alias}->${a.index}`)
    .sort();
  const redisKeys = await withRedis(e, persistentKeys);
  return {
    databases,
    slots,
    topics,
    groups,
    connectors,
    indices,
    aliases,
    redisKeys,
    platformEvents: await platformEvents(e),
    platformTopicRecords,
  };
}

/** Names in `after` that are not in `before` (and the reverse), per kind; empty when nothing changed. */
export function differences(before: Inventory, after: Inventory): string[] {
  const out: string[] = [];
  for (const kind of [
    'databases',
    'slots',
    'topics',
    'groups',
    'connectors',
    'indices',
    'aliases',
  ] as const) {
    const was = new Set(before[kind]);
    const is = new Set(after[kind]);
    const added = after[kind].filter((x) => !was.has(x));
    const removed = before[kind].filter((x) => !is.has(x));
    if (added.length) out.push(`${kind} left behind: ${added.join(', ')}`);
    // A consumer group that never committed an offset vanishes by itself once its last member
    // leaves (a platform that was just stopped): only what the run adds counts for groups.
    if (removed.length && kind !== 'groups') out.push(`${kind} removed: ${removed.join(', ')}`);
  }
  for (const kind of ['redisKeys', 'platformEvents', 'platformTopicRecords'] as const) {
    if (before[kind] !== after[kind]) out.push(`${kind}: ${before[kind]} before, ${after[kind]} after`);
  }
  return out;
}

/** A run's tag as newRunTag() makes it, at the start of a name (or of Debezium's heartbeat topic). */
// Redis keys carry the tag inside a cluster hash tag: `{t0a1b2c_rm}:…` (docs/adr/0020).
const TAG = /^(?:__debezium-heartbeat\.|\{)?(t[0-9a-f]{6}_)/;

/**
 * A run's database `<tag>booking`: same role and server as DATABASE_URL (the role Debezium
 * replicates with). Returns its URL; removeRun drops it.
 */
export async function createRunDatabase(e: Engines, tag: string): Promise<{ name: string; url: string }> {
  const base = new URL(process.env.DATABASE_URL ?? 'postgres://booking:booking@127.0.0.1:5432/booking');
  const name = `${tag}booking`;
  const owner = decodeURIComponent(base.username) || 'booking';
  await withPg(e.adminUrl, (c) =>
    c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)} OWNER ${pg.escapeIdentifier(owner)}`),
  );
  base.pathname = `/${name}`;
  return { name, url: base.href };
}

/** Tags of every run that left something on the engines (live runs included). */
export async function scanTags(e: Engines): Promise<string[]> {
  const i = await takeInventory(e);
  const names = [...i.databases, ...i.slots, ...i.topics, ...i.groups, ...i.connectors, ...i.indices];
  names.push(
    ...(await withRedis(e, async (r) => {
      const run = 't[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]_*';
      return [...(await scanKeys(r, run)), ...(await scanKeys(r, `{${run}`))];
    })),
  );
  return [...new Set(names.map((n) => TAG.exec(n)?.[1]).filter((t): t is string => t !== undefined))];
}

const tagged = (tag: string) => (name: string) =>
  name.startsWith(tag) || name.startsWith(`__debezium-heartbeat.${tag}`);

/**
 * Removes everything carrying the run's tag, and the run's database; returns what it removed per
 * kind (the count of what the tests created and did not clean up themselves).
 */
export async function removeRun(e: Engines, tag: string, database: string): Promise<Record<string, number>> {
  const removed: Record<string, number> = {};
  const connectors = (await json<string[]>(`${e.connectUrl}/connectors`)).filter(tagged(tag));
  for (const name of connectors)
    await fetch(`${e.connectUrl}/connectors/${encodeURIComponent(name)}`, { method: 'DELETE' });
  removed.connectors = connectors.length;
  // The run's database and its workers' (`<tag>w2_booking`…), all named with the tag.
  const databases = await withPg(e.adminUrl, async (c) =>
    (await c.query<{ d: string }>('SELECT datname AS d FROM pg_database')).rows
      .map((r) => r.d)
      .filter((d) => d === database || d.startsWith(tag)),
  );
  removed.slots = 0;
  for (const d of databases) removed.slots += await dropSlots(e, tag, d);
  removed.databases = await withPg(e.adminUrl, async (c) => {
    let dropped = 0;
    for (const d of databases) {
      const r = await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(d)} WITH (FORCE)`);
      if (r.command === 'DROP') dropped += 1;
    }
    return dropped;
  });
  Object.assign(
    removed,
    await withKafkaAdmin(e, async (admin) => {
      const topics = (await admin.listTopics()).filter(tagged(tag));
      if (topics.length) await admin.deleteTopics({ topics, timeout: 30_000 });
      const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter(tagged(tag));
      if (groups.length) await admin.deleteGroups(groups);
      return { topics: topics.length, groups: groups.length };
    }),
  );
  const indices = (await json<{ index: string }[]>(`${e.searchUrl}/_cat/indices/${tag}*?format=json`)).map(
    (i) => i.index,
  );
  for (const index of indices) await json(`${e.searchUrl}/${index}`, { method: 'DELETE' });
  removed.indices = indices.length;
  removed.redisKeys = await withRedis(e, async (redis) => {
    const keys = [...(await scanKeys(redis, `${tag}*`)), ...(await scanKeys(redis, `{${tag}*`))];
    for (let i = 0; i < keys.length; i += 500) await redis.unlink(...keys.slice(i, i + 500));
    return keys.length;
  });
  return removed;
}

/** Drops the run's replication slots; a slot still held by a stopping connector's walsender is freed first. */
async function dropSlots(e: Engines, tag: string, database: string): Promise<number> {
  return withPg(e.adminUrl, async (c) => {
    const deadline = Date.now() + 30_000;
    let dropped = 0;
    for (;;) {
      if (Date.now() > deadline + 30_000)
        throw new Error('replication slots of the run could not be dropped');
      const { rows } = await c.query<{ slot_name: string; active_pid: number | null }>(
        `SELECT slot_name, active_pid FROM pg_replication_slots WHERE slot_name LIKE $1 OR database = $2`,
        [`${tag}%`, database],
      );
      if (rows.length === 0) return dropped;
      for (const slot of rows) {
        if (slot.active_pid !== null) {
          if (Date.now() > deadline) await c.query('SELECT pg_terminate_backend($1)', [slot.active_pid]);
          continue;
        }
        await c.query('SELECT pg_drop_replication_slot($1)', [slot.slot_name]).then(
          () => (dropped += 1),
          () => undefined, // became active again in between: next round
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  });
}
