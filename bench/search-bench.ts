/**
 * Institutions search relevance and latency (npm run bench:search): indexes the deterministic
 * seed catalog (3,000 institutions, generated in process) into an index of its own behind its own
 * alias, exactly as the catalog projector writes it, runs bench/search-relevance.json and prints
 * precision@1 and recall@10 per kind of query, then the query latency at a fixed rate (open loop:
 * a query is sent every 1/rate s whether or not the previous one answered). Writes
 * bench/results/search.md and removes its index.
 *
 * Options: --rate <queries/s> (default 50) --duration <s> (default 10) --out <path>
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../platform/config.ts';
import { institutionSearchQuery } from '../platform/search/institution-query.ts';
import { searchFromConfig, type SearchEngine } from '../platform/search/index.ts';
import { versionedIndexName } from '../projections/catalog/search-index.ts';
import { loadSeededInstitutions } from './search-catalog.ts';
import type { RelevanceQuery } from './search-relevance-set.ts';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '50' },
    duration: { type: 'string', default: '10' },
    out: { type: 'string', default: 'bench/results/search.md' },
    verbose: { type: 'boolean', default: false },
  },
});

const set = JSON.parse(readFileSync(new URL('search-relevance.json', import.meta.url), 'utf8')) as {
  queries: RelevanceQuery[];
};

const run = (search: SearchEngine, alias: string, q: RelevanceQuery) =>
  search.search<{ id: number }>(alias, {
    query: institutionSearchQuery({ q: q.q, city: q.city }),
    sort: [{ _score: 'desc' }, { id: 'asc' }],
    size: 10,
    trackTotalHits: true,
  });

interface Scored {
  q: RelevanceQuery;
  p1: number;
  r10: number;
  total: number;
  got: number[];
  ms: number;
}

async function relevance(search: SearchEngine, alias: string): Promise<Scored[]> {
  const out: Scored[] = [];
  for (const q of set.queries) {
    const t0 = performance.now();
    const result = await run(search, alias, q);
    const ms = performance.now() - t0;
    const got = result.hits.map((h) => Number(h.id));
    const relevant = new Set(q.relevant);
    const found = got.filter((id) => relevant.has(id)).length;
    out.push({
      q,
      p1: got[0] !== undefined && q.top.includes(got[0]) ? 1 : 0,
      r10: found / Math.min(10, relevant.size),
      total: result.total,
      got,
      ms,
    });
  }
  return out;
}

async function latency(search: SearchEngine, alias: string, rate: number, seconds: number) {
  const times: number[] = [];
  let failed = 0;
  const pending: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < rate * seconds; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const q = set.queries[i % set.queries.length] as RelevanceQuery;
    pending.push(
      run(search, alias, q).then(
        () => void times.push(performance.now() - due),
        () => void failed++,
      ),
    );
  }
  await Promise.all(pending);
  times.sort((a, b) => a - b);
  const pct = (p: number) => times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))] ?? NaN;
  return { sent: rate * seconds, failed, p50: pct(50), p99: pct(99), max: times.at(-1) ?? NaN };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const f2 = (n: number) => n.toFixed(2);

function table(scored: Scored[]): string {
  const kinds = [...new Set(scored.map((s) => s.q.kind))];
  const lines = ['| kind | queries | P@1 | R@10 |', '| --- | --- | --- | --- |'];
  for (const kind of kinds) {
    const of = scored.filter((s) => s.q.kind === kind);
    lines.push(
      `| ${kind} | ${of.length} | ${f2(mean(of.map((s) => s.p1)))} | ${f2(mean(of.map((s) => s.r10)))} |`,
    );
  }
  lines.push(
    `| **all** | ${scored.length} | **${f2(mean(scored.map((s) => s.p1)))}** | **${f2(mean(scored.map((s) => s.r10)))}** |`,
  );
  return lines.join('\n');
}

async function main() {
  const config = loadConfig();
  const search = searchFromConfig(config);
  const alias = `bench-search-${Date.now().toString(36)}`;
  try {
    const { docs: indexed } = await loadSeededInstitutions(search, alias);
    const scored = await relevance(search, alias);
    const misses = scored.filter((s) => s.p1 < 1 || s.r10 < 1);
    const lat = await latency(search, alias, Number(args.rate), Number(args.duration));
    const md = [
      '# Institutions search: relevance and latency',
      '',
      `\`npm run bench:search\` — ${new Date().toISOString()}, ${search.kind}, ${indexed} seeded institutions,`,
      `${scored.length} queries of bench/search-relevance.json (expectations derived by id from the seed).`,
      '',
      table(scored),
      '',
      `Latency (engine round trip of the query API's search query, size 10, open loop at ${args.rate} queries/s for ${args.duration} s):`,
      `sent ${lat.sent}, failed ${lat.failed}, P50 ${f2(lat.p50)} ms, **P99 ${f2(lat.p99)} ms**, max ${f2(lat.max)} ms`,
      `(${cpus().length} cores shared with other work; load average ${loadavg().map(f2).join(' ')} at the end).`,
      '',
      misses.length ? 'Queries below 1 (top ids, then the ids returned):' : 'Every query scored 1 on both.',
      '',
      ...misses.map(
        (s) =>
          `- ${s.q.kind} \`${s.q.q}\`${s.q.city ? ` city=${s.q.city}` : ''}: P@1 ${s.p1}, R@10 ${f2(s.r10)}, total ${s.total}, got ${s.got.join(',')}`,
      ),
      '',
    ].join('\n');
    console.log(md);
    if (args.verbose)
      for (const s of scored) console.log(s.q.kind, s.q.q, s.total, f2(s.ms), s.got.slice(0, 3).join(','));
    mkdirSync(dirname(args.out), { recursive: true });
    writeFileSync(args.out, md);
  } finally {
    for (const index of await search.aliasTargets(alias)) await search.deleteIndex(index);
    await search.deleteIndex(versionedIndexName(alias));
    await search.close();
  }
}

await main();
