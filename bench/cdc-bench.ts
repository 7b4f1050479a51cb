/**
 * Catalog CDC benchmark on the real engines (PostgreSQL → Debezium → Kafka → Redis / search).
 *
 *   npm run bench:cdc                          # 3 rounds, 200 updates each
 *   npm run bench:cdc -- --rounds 5 --updates 500
 *
 * Each round registers a private connector (own slot, publication, topic prefix, Redis prefix,
 * index) and measures:
 *   - snapshot throughput: rows of the initial snapshot applied per second, from registering
 *     the connector until the last row is in Redis (all four tables) / in the index (institutions);
 *   - change freshness: one UPDATE at a time on the round's own institutions; the clock starts
 *     before the (auto-committed) UPDATE is sent and stops when a reader sees the new value in
 *     Redis (polled every 2 ms) and in search results (a search request, polled every 20 ms).
 * Medians over the rounds go to bench/results/cdc.md. The catalog is seeded first if empty.
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { seedIfEmpty } from '../infra/seed/seed.ts';
import { loadConfig } from '../platform/config.ts';
import { createLogger } from '../platform/logger.ts';
import {
  createCatalogPipeline,
  insertInstitution,
  type CatalogPipeline,
} from '../tests/support/catalog-pipeline.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    updates: { type: 'string', default: '200' },
    out: { type: 'string', default: 'bench/results/cdc.md' },
  },
});
const ROUNDS = Number(values.rounds);
const UPDATES = Number(values.updates);

const config = loadConfig();
const logger = createLogger('bench-cdc', 'warn');
const say = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
};
const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
};

interface Round {
  rows: number;
  institutions: number;
  /** ms from PUT config to the first snapshot row applied in Redis (connector start, slot, topics). */
  startupMs: number;
  redisAllMs: number;
  redisInstitutionsMs: number;
  searchMs: number;
  redisRowsPerSec: number;
  redisSteadyRowsPerSec: number;
  searchRowsPerSec: number;
  searchSteadyRowsPerSec: number;
  redisP50: number;
  redisP99: number;
  redisMax: number;
  searchP50: number;
  searchP99: number;
}

async function countRows(p: CatalogPipeline): Promise<{ rows: number; institutions: number }> {
  const r = await p.db.query<{ i: string; d: string; doc: string; c: string }>(
    `SELECT (SELECT count(*) FROM institutions) AS i, (SELECT count(*) FROM departments) AS d,
            (SELECT count(*) FROM doctors) AS doc, (SELECT count(*) FROM homepage_content) AS c`,
  );
  const row = r.rows[0]!;
  return {
    rows: Number(row.i) + Number(row.d) + Number(row.doc) + Number(row.c),
    institutions: Number(row.i),
  };
}

async function round(n: number): Promise<Round> {
  const p = await createCatalogPipeline(config, { tag: 'cdcbench', logger });
  const own: number[] = [];
  try {
    const city = `基准市${n}`;
    for (let i = 0; i < 20; i++)
      own.push(await insertInstitution(p.db, { name: `基准医院${n}-${i}`, city, rating: 4 }));
    const { rows, institutions } = await countRows(p);

    // --- snapshot ---
    const t0 = performance.now();
    const applying = p.applyConnector();
    const started = p.startProjection();
    await Promise.all([applying, started]);
    const snapshotDone = (store: 'redis' | 'search', table?: string) =>
      p.applied.filter((a) => a.store === store && a.event.snapshot && (!table || a.table === table)).length;
    let redisInstitutionsMs = 0;
    let firstMs = 0;
    for (;;) {
      const now = performance.now() - t0;
      if (!firstMs && snapshotDone('redis') > 0) firstMs = now;
      if (!redisInstitutionsMs && snapshotDone('redis', 'institutions') >= institutions)
        redisInstitutionsMs = now;
      if (snapshotDone('redis') >= rows && snapshotDone('search') >= institutions) break;
      if (now > 600_000) throw new Error('snapshot did not finish in 10 minutes');
      await sleep(20);
    }
    const snapshotTimes = (store: 'redis' | 'search') =>
      p.applied.filter((a) => a.store === store && a.event.snapshot).map((a) => a.at);
    const lastAt = (store: 'redis' | 'search') => Math.max(...snapshotTimes(store));
    const firstAt = (store: 'redis' | 'search') => Math.min(...snapshotTimes(store));
    const wall0 = Date.now() - (performance.now() - t0);
    const redisAllMs = lastAt('redis') - wall0;
    const searchMs = lastAt('search') - wall0;

    // --- freshness ---
    const redisLat: number[] = [];
    const searchLat: number[] = [];
    for (let i = 0; i < UPDATES; i++) {
      const id = own[i % own.length]!;
      const name = `基准医院${n}-${i}-更新`;
      const start = performance.now();
      await p.db.query('UPDATE institutions SET name = $1 WHERE id = $2', [name, id]);
      let inRedis = 0;
      let inSearch = 0;
      let lastSearchPoll = 0;
      while (!inRedis || !inSearch) {
        const now = performance.now();
        if (!inRedis && (await p.reader.get('institutions', String(id)))?.doc?.name === name) {
          inRedis = performance.now() - start;
        }
        if (!inSearch && now - lastSearchPoll >= 20) {
          lastSearchPoll = now;
          const hit = await p.search.search<{ name: string }>(p.alias, {
            query: { ids: { values: [String(id)] } },
            size: 1,
            trackTotalHits: false,
          });
          if (hit.hits[0]?.source.name === name) inSearch = performance.now() - start;
        }
        if (now - start > 30_000) throw new Error(`update ${i} not visible after 30 s`);
        await sleep(2);
      }
      redisLat.push(inRedis);
      searchLat.push(inSearch);
      await sleep(10);
    }
    const r: Round = {
      rows,
      institutions,
      startupMs: firstMs,
      redisAllMs,
      redisInstitutionsMs,
      searchMs,
      redisRowsPerSec: rows / (redisAllMs / 1000),
      redisSteadyRowsPerSec: rows / ((redisAllMs - firstMs) / 1000),
      searchRowsPerSec: institutions / (searchMs / 1000),
      searchSteadyRowsPerSec: institutions / ((lastAt('search') - firstAt('search')) / 1000),
      redisP50: percentile(redisLat, 50),
      redisP99: percentile(redisLat, 99),
      redisMax: Math.max(...redisLat),
      searchP50: percentile(searchLat, 50),
      searchP99: percentile(searchLat, 99),
    };
    say(
      `round ${n}: snapshot ${rows} rows → Redis in ${(redisAllMs / 1000).toFixed(1)} s ` +
        `(${Math.round(r.redisRowsPerSec)} rows/s; ${Math.round(r.redisSteadyRowsPerSec)} rows/s after the first row at ${Math.round(firstMs)} ms), ` +
        `${institutions} institutions → index in ${(searchMs / 1000).toFixed(1)} s (${Math.round(r.searchRowsPerSec)} docs/s); ` +
        `freshness Redis P50 ${r.redisP50.toFixed(0)} ms P99 ${r.redisP99.toFixed(0)} ms max ${r.redisMax.toFixed(0)} ms, ` +
        `search P50 ${r.searchP50.toFixed(0)} ms P99 ${r.searchP99.toFixed(0)} ms`,
    );
    return r;
  } finally {
    if (own.length)
      await p.db.query('DELETE FROM institutions WHERE id = ANY($1)', [own]).catch(() => undefined);
    await p.cleanup();
  }
}

const seeded = await seedIfEmpty(config.DATABASE_URL);
if (seeded.seeded) say(`seeded ${seeded.totalRows} rows at ${seeded.rowsPerSecond} rows/s`);

const loadBefore = loadavg()[0] ?? 0;
const rounds: Round[] = [];
for (let i = 1; i <= ROUNDS; i++) rounds.push(await round(i));

const m = (k: keyof Round) => median(rounds.map((r) => r[k]));
const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
const table = [
  '| metric | median | rounds |',
  '|---|---:|---|',
  ...(
    [
      ['snapshot rows (4 tables)', 'rows', ''],
      ['  connector start → first row in Redis (ms)', 'startupMs', ''],
      ['  snapshot → Redis, all rows (ms)', 'redisAllMs', ''],
      ['  snapshot → Redis, rows/s (from PUT config)', 'redisRowsPerSec', ''],
      ['  snapshot → Redis, rows/s (after the first row)', 'redisSteadyRowsPerSec', ''],
      ['  snapshot → Redis, institutions only (ms)', 'redisInstitutionsMs', ''],
      ['  snapshot → index, institutions (ms)', 'searchMs', ''],
      ['  snapshot → index, docs/s (from PUT config)', 'searchRowsPerSec', ''],
      ['  snapshot → index, docs/s (after the first doc)', 'searchSteadyRowsPerSec', ''],
      ['freshness → Redis P50 (ms)', 'redisP50', ''],
      ['freshness → Redis P99 (ms)', 'redisP99', ''],
      ['freshness → Redis max (ms)', 'redisMax', ''],
      ['freshness → search P50 (ms)', 'searchP50', ''],
      ['freshness → search P99 (ms)', 'searchP99', ''],
    ] as const
  ).map(([label, key]) => `| ${label} | ${fmt(m(key))} | ${rounds.map((r) => fmt(r[key])).join(' / ')} |`),
];

const loadAfter = loadavg()[0] ?? 0;
const report = `# Catalog CDC benchmark

\`npm run bench:cdc -- --rounds ${ROUNDS} --updates ${UPDATES}\` — ${new Date().toISOString()}

Machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}. Engines: the local
PostgreSQL 15, Kafka 4.3 (KRaft, 1 broker), Kafka Connect 4.3 + Debezium 3.6.1, OpenSearch 2.19, Redis — all on
this same machine as the benchmark and the projectors. 1-minute load average: ${loadBefore.toFixed(1)} before,
${loadAfter.toFixed(1)} after (anything above the core count means other work competed for the CPU).

Each round: a fresh connector (own slot, publication, topics), the catalog projection in-process (two consumer
groups: Redis and search), initial snapshot, then ${UPDATES} single-row UPDATEs one at a time on the round's own
institutions. Freshness clock: from just before the auto-committed UPDATE is sent until a reader sees the new
value (Redis: HGET polled every 2 ms; search: an \`ids\` search request polled every 20 ms, so it includes the
index refresh interval of 1 s).

${table.join('\n')}

Target: change freshness P99 ≤ 2 s into Redis.
`;
writeFileSync(values.out, report);
say(`\n${table.join('\n')}\n\nwritten to ${values.out}`);
process.exit(0);
