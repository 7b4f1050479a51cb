/**
 * Mixed-workload query benchmark (`npm run bench:query -- --mix`): about 1,400 URLs built from a
 * seeded catalog (30 cities' homepages, with and without campaign tags, first and second list
 * pages, 600 institution pages and their departments, doctor schedules), drawn by Zipf popularity,
 * while catalog rows change through PostgreSQL (CDC invalidates the caches), against
 *   ceiling  a bare node:http server answering each URL's exact bytes (same mean size)
 *   naive    Express with one Redis GET + JSON parse/stringify per request
 *   ours     the query API, with its default flow rules (less per-client budgets: one generator stands for many clients) and tracing as in production
 *            (telemetry preload, parent-based 10 % sampling, spans to the local Zipkin)
 * side by side in one run, rounds interleaved. `--searches N` adds N distinct searches to the URL
 * set and measures that mix too. `--soak <minutes>` then keeps ours under the mix and samples its
 * RSS and cache bytes (bench/results/query-soak.md).
 *
 * Everything lives in the benchmark's own namespace (bench/bench-namespace.ts): its database,
 * migrated and seeded, its connector, topics, Redis prefixes and search index, all removed after.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadConfig } from '../platform/config.ts';
import { createCatalogPipeline, type CatalogPipeline } from '../tests/support/catalog-pipeline.ts';
import { uniqueName, waitFor } from '../tests/support/wait.ts';
import { openBenchNamespace } from './bench-namespace.ts';
import { hitRatios, rssOf, runMix, scrape, type MixRun } from './mix-measure.ts';
import {
  pageUrls,
  random,
  ROUTES,
  sampleCatalog,
  searchUrls,
  shuffle,
  zipfDraws,
  type CatalogSample,
  type RouteName,
} from './mix-urls.ts';

export interface MixOptions {
  duration: number;
  rounds: number;
  connections: number;
  searches: number;
  changesPerSecond: number;
  zipf: number;
  soakMinutes?: number;
  note?: string;
  out?: string;
  soakOut?: string;
  json?: string;
}

type Target = 'ceiling' | 'naive' | 'ours';
const TARGETS: readonly Target[] = ['ceiling', 'naive', 'ours'];
const PORTS: Record<Target, number> = { ceiling: 39_120, naive: 39_121, ours: 39_122 };
const OURS_ADMIN = 39_132;
const MB = 1024 * 1024;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(', ');

function startServer(kind: Target, env: Record<string, string>): Promise<ChildProcess> {
  // Ours as the supervisor starts it in production: the telemetry preload, 10 % parent-based sampling.
  const preload = kind === 'ours' ? ['--import', './platform/telemetry-register.ts'] : [];
  // BENCH_PROFILE_DIR: a V8 CPU profile of ours, written when the benchmark stops it.
  const profile = process.env.BENCH_PROFILE_DIR;
  if (kind === 'ours' && profile) preload.push('--cpu-prof', '--cpu-prof-dir', profile);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', ...preload, 'bench/query-servers.ts', kind, String(PORTS[kind])],
    {
      env: {
        ...process.env,
        ...env,
        LOG_LEVEL: 'warn',
        OTEL_SDK_DISABLED: kind === 'ours' ? 'false' : 'true',
        OTEL_SERVICE_NAME: 'query-api-bench',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.1',
      },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    },
  );
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
}

/** Catalog rows changed through PostgreSQL at a steady rate (CDC carries them to Redis and search). */
function startChanges(p: CatalogPipeline, s: CatalogSample, perSecond: number) {
  const tables = [
    ['institutions', s.institutionIds],
    ['departments', s.departmentIds],
    ['doctors', s.doctorIds],
  ] as const;
  const sql: Record<(typeof tables)[number][0], string> = {
    institutions: `UPDATE institutions SET rating = round((3 + random() * 2)::numeric, 1), updated_at = now() WHERE id = $1`,
    departments: `UPDATE departments SET updated_at = now() WHERE id = $1`,
    doctors: `UPDATE doctors SET updated_at = now() WHERE id = $1`,
  };
  let i = 0;
  let busy = false;
  let changed = 0;
  let skipped = 0;
  const rnd = random(7);
  const timer = setInterval(() => {
    if (busy) {
      skipped += 1;
      return;
    }
    const [table, ids] = tables[i++ % tables.length]!;
    if (ids.length === 0) return;
    busy = true;
    p.db
      .query(sql[table], [ids[Math.floor(rnd() * ids.length)]])
      .then(() => (changed += 1))
      .catch((err: unknown) => console.error('catalog change failed', err))
      .finally(() => (busy = false));
  }, 1000 / perSecond);
  return {
    counts: () => ({ changed, skipped }),
    stop: () => clearInterval(timer),
  };
}

async function waitForCatalog(p: CatalogPipeline, withSearch: boolean): Promise<number> {
  const active = Number(
    (await p.db.query<{ n: string }>(`SELECT count(*) AS n FROM institutions WHERE status = 'active'`))
      .rows[0]!.n,
  );
  if (active === 0) throw new Error('the seeded catalog is empty');
  const doctors = Number((await p.db.query<{ n: string }>(`SELECT count(*) AS n FROM doctors`)).rows[0]!.n);
  const lastDoctor = (await p.db.query<{ id: string }>(`SELECT max(id) AS id FROM doctors`)).rows[0]!.id;
  await waitFor(
    async () =>
      (await p.redis.zcard(p.keys.institutionsAll)) >= active &&
      (await p.redis.exists(p.keys.doc('doctors', lastDoctor))) === 1
        ? true
        : undefined,
    { timeoutMs: 600_000, intervalMs: 1000, what: `${active} institutions and ${doctors} doctors in Redis` },
  );
  if (withSearch) {
    await waitFor(
      async () => {
        await p.search.refresh(p.alias).catch(() => undefined);
        const n = await p.search.count(p.alias).catch(() => 0);
        return n >= active ? true : undefined;
      },
      { timeoutMs: 600_000, intervalMs: 1000, what: `${active} institutions in the search index` },
    );
  }
  return active;
}

interface MixResult {
  name: string;
  urls: number;
  runs: Record<Target, MixRun[]>;
  hits: Partial<Record<RouteName, { hits: number; total: number; ratio: number }>>;
}

export async function mixBench(o: MixOptions): Promise<void> {
  const started = new Date();
  const load0 = load();
  console.log('opening the benchmark namespace: database, migrations, seed…');
  const ns = await openBenchNamespace();
  console.log(`namespace ${ns.tag}: seeded ${JSON.stringify(ns.seeded)}`);
  const config = loadConfig();
  const children = new Map<Target, ChildProcess>();
  let p: CatalogPipeline | undefined;
  let changes: ReturnType<typeof startChanges> | undefined;
  const naivePrefix = `${uniqueName('bench:mixnaive')}:`;
  const bodiesFile = join(tmpdir(), `${uniqueName('bench-mix-bodies')}.json`);
  try {
    p = await createCatalogPipeline(config, { tag: 'qmix' });
    await p.applyConnector();
    await p.startProjection(o.searches > 0 ? ['redis', 'search'] : ['redis']);
    console.log('waiting for the Debezium snapshot in Redis (and search)…');
    const active = await waitForCatalog(p, o.searches > 0);
    const sample = await sampleCatalog(p.db, {
      cities: 30,
      perCity: 20,
      doctorsPerCity: 3,
      searches: o.searches,
    });

    const ours = await startServer('ours', {
      BENCH_CATALOG_PREFIX: p.keys.prefix,
      BENCH_SEARCH_ALIAS: p.alias,
      BENCH_READ_MODEL_ROOT: uniqueName('rm'),
      BENCH_ADMIN_PORT: String(OURS_ADMIN),
    });
    children.set('ours', ours);
    const base = `http://127.0.0.1:${PORTS.ours}`;
    const metricsUrl = `http://127.0.0.1:${OURS_ADMIN}/metrics`;
    const pages = await pageUrls(sample, async (first) => {
      const { body } = await fetchOk(`${base}${first}`);
      return (JSON.parse(body.toString()) as { nextCursor?: string | null }).nextCursor ?? undefined;
    });
    const searches = searchUrls(sample);
    const rnd = random(42);
    const mixes = [{ name: 'pages', urls: shuffle(pages, rnd) }];
    if (searches.length)
      mixes.push({
        name: `pages + ${searches.length} searches`,
        urls: shuffle([...pages, ...searches], rnd),
      });

    // Every URL once through ours: each must answer 200; its bytes feed the two baselines.
    const bodies: Record<string, string> = {};
    const pipeline = p.redis.pipeline();
    for (const url of [...pages, ...searches]) {
      const { res, body } = await fetchOk(`${base}${url}`);
      if (res.status !== 200) throw new Error(`${url} -> ${res.status}: ${body.toString()}`);
      bodies[url] = body.toString('base64');
      pipeline.set(`${naivePrefix}${url}`, body.toString('utf8'), 'EX', 7200);
    }
    await pipeline.exec();
    writeFileSync(bodiesFile, JSON.stringify(bodies));
    children.set('ceiling', await startServer('ceiling', { BENCH_BODIES_FILE: bodiesFile }));
    children.set('naive', await startServer('naive', { BENCH_NAIVE_PREFIX: naivePrefix }));
    const pid = (t: Target) => children.get(t)!.pid!;

    await new Promise((r) => setTimeout(r, 3000));
    const rest = await scrape(metricsUrl);
    const atRest = {
      rss: Object.fromEntries(TARGETS.map((t) => [t, rssOf(pid(t))])) as Record<Target, number>,
      cacheBytes: rest.get('query_cache_l1_bytes') ?? 0,
      cacheEntries: rest.get('query_cache_l1_entries') ?? 0,
    };

    changes = startChanges(p, sample, o.changesPerSecond);
    const appliedBefore = p.applied.length;
    const changesStarted = Date.now();
    const drawsOf = mixes.map((m) => zipfDraws(m.urls.length, 1 << 20, o.zipf, random(1)));
    const results: MixResult[] = mixes.map((m) => ({
      name: m.name,
      urls: m.urls.length,
      runs: { ceiling: [], naive: [], ours: [] },
      hits: {},
    }));
    for (const [mi, mix] of mixes.entries()) {
      const d = drawsOf[mi]!;
      for (const t of TARGETS) {
        await runMix({ port: PORTS[t], urls: mix.urls, draws: d, connections: o.connections, duration: 3 });
      }
      const before = await scrape(metricsUrl);
      for (let round = 1; round <= o.rounds; round++) {
        for (const t of TARGETS) {
          const r = await runMix({
            port: PORTS[t],
            urls: mix.urls,
            draws: d,
            connections: o.connections,
            duration: o.duration,
            pid: pid(t),
          });
          results[mi]!.runs[t].push(r);
          console.log(
            `${mix.name} round ${round} ${t}: ${Math.round(r.rps)} req/s, P99 ${r.p99} ms, ${r.failures} failures, load ${load()}`,
          );
        }
      }
      results[mi]!.hits = hitRatios(before, await scrape(metricsUrl));
    }
    const changeSeconds = (Date.now() - changesStarted) / 1000;
    const c = changes.counts();
    const applied = p.applied.slice(appliedBefore).filter((a) => a.store === 'redis').length;
    const after = await scrape(metricsUrl);
    const underMix = {
      peakRss: Object.fromEntries(
        TARGETS.map((t) => [t, Math.max(...results.flatMap((r) => r.runs[t].map((x) => x.peakRss ?? 0)))]),
      ) as Record<Target, number>,
      cacheBytes: after.get('query_cache_l1_bytes') ?? 0,
      cacheEntries: after.get('query_cache_l1_entries') ?? 0,
    };

    let soak: SoakSample[] | undefined;
    if (o.soakMinutes) {
      for (const t of ['ceiling', 'naive'] as const) children.get(t)?.kill('SIGTERM');
      soak = await runSoak(o, mixes.at(-1)!.urls, drawsOf.at(-1)!, pid('ours'), metricsUrl);
    }
    const context = {
      started,
      load0,
      active,
      sample,
      changes: {
        ...c,
        perSecond: c.changed / changeSeconds,
        applied,
        appliedPerSecond: applied / changeSeconds,
      },
    };
    const md = report(o, context, results, atRest, underMix);
    const out = o.out ?? 'bench/results/query-mix.md';
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, md);
    console.log(md);
    if (soak) {
      const soakMd = soakReport(o, context, soak);
      writeFileSync(o.soakOut ?? 'bench/results/query-soak.md', soakMd);
      console.log(soakMd);
    }
    if (o.json) {
      mkdirSync(dirname(o.json), { recursive: true });
      writeFileSync(
        o.json,
        `${JSON.stringify(figures(o, context, results, atRest, underMix, soak), null, 2)}\n`,
      );
    }
  } finally {
    changes?.stop();
    for (const child of children.values()) child.kill('SIGTERM');
    rmSync(bodiesFile, { force: true });
    if (p) {
      await scanDelete(p, naivePrefix).catch(() => undefined);
      await p.cleanup().catch((err: unknown) => console.error('pipeline cleanup', err));
    }
    console.log(`removed namespace ${ns.tag}: ${JSON.stringify(await ns.cleanup())}`);
  }
}

/** A first read on a busy host can exceed the 80 ms Redis budget (503): retried a few times. */
async function fetchOk(url: string): Promise<{ res: Response; body: Buffer }> {
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(url);
    const body = Buffer.from(await res.arrayBuffer());
    if (res.status !== 503 || attempt === 20) return { res, body };
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function scanDelete(p: CatalogPipeline, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, found] = await p.redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (found.length) await p.redis.unlink(...found);
  } while (cursor !== '0');
}

interface SoakSample {
  minute: number;
  rps: number;
  p99: number;
  rss: number;
  cacheBytes: number;
  failures: number;
}

/** Ours alone under the mix, one-minute runs back to back; RSS and cache bytes after each. */
async function runSoak(
  o: MixOptions,
  urls: readonly string[],
  draws: Uint32Array,
  pid: number,
  metricsUrl: string,
): Promise<SoakSample[]> {
  const samples: SoakSample[] = [];
  for (let minute = 1; minute <= o.soakMinutes!; minute++) {
    const r = await runMix({ port: PORTS.ours, urls, draws, connections: o.connections, duration: 60, pid });
    const m = await scrape(metricsUrl);
    samples.push({
      minute,
      rps: r.rps,
      p99: r.p99,
      rss: rssOf(pid),
      cacheBytes: m.get('query_cache_l1_bytes') ?? 0,
      failures: r.failures,
    });
    console.log(`soak minute ${minute}: ${Math.round(r.rps)} req/s, RSS ${(rssOf(pid) / MB).toFixed(1)} MB`);
  }
  return samples;
}

interface Context {
  started: Date;
  load0: string;
  active: number;
  sample: CatalogSample;
  changes: { changed: number; skipped: number; perSecond: number; applied: number; appliedPerSecond: number };
}
type Memory = { cacheBytes: number; cacheEntries: number };
type AtRest = Memory & { rss: Record<Target, number> };
type UnderMix = Memory & { peakRss: Record<Target, number> };

const mb = (b: number) => (b / MB).toFixed(1);

function header(o: MixOptions, c: Context, title: string, command: string): string[] {
  return [
    `# ${title}`,
    '',
    `Generated by \`${command}\` on ${c.started.toISOString()}.`,
    '',
    `- Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; Node ${process.version}; PostgreSQL, Kafka, Connect, Redis, OpenSearch, Zipkin, the CDC projectors and the load generator on the same host`,
    `- Data: a catalog seeded in the benchmark's own database (${c.active} active institutions), snapshotted and then streamed by Debezium into a private Redis prefix${o.searches ? ' and search index' : ''} by the real CDC projectors`,
    `- URLs: ${c.sample.cities.length} cities' homepages (each also with campaign tags), first and second list pages (cursor), ${c.sample.institutionIds.length} institution pages and their departments, ${c.sample.doctorIds.length} doctors' schedules${o.searches ? `; with searches: ${c.sample.searches.length} distinct searches added` : ''}; popularity Zipf (s = ${o.zipf}) over the shuffled set`,
    `- Catalog changes during the runs: ${c.changes.perSecond.toFixed(1)} rows/s through PostgreSQL (${c.changes.changed} updates of institutions, departments and doctors, ${c.changes.skipped} ticks skipped while one was in flight), ${c.changes.appliedPerSecond.toFixed(1)} change events/s applied to Redis by CDC`,
    `- Load: autocannon, ${o.connections} connections, ${o.duration} s per run after a 3 s warm-up, ${o.rounds} rounds interleaved (ceiling, naive, ours); each server in its own process; LOG_LEVEL=warn`,
    `- ours: the query API with its default flow rules (per-client budgets lifted: one load generator stands for many patients) and the telemetry preload as in production (parent-based 10 % sampling, spans to Zipkin)`,
    `- Host load average before: ${c.load0}; after: ${load()}${o.note ? `; also running: ${o.note}` : ''}`,
    '',
  ];
}

function report(o: MixOptions, c: Context, results: MixResult[], rest: AtRest, mix: UnderMix): string {
  const lines = header(
    o,
    c,
    'Query benchmark — mixed workload',
    `npm run bench:query -- --mix${o.searches ? ` --searches ${o.searches}` : ''}`,
  );
  lines.push(
    '| mix | target | req/s (median) | P50 ms | P99 ms (median) | runs (req/s) | mean body B | non-2xx + errors |',
    '|---|---|---:|---:|---:|---|---:|---:|',
  );
  for (const r of results) {
    for (const t of TARGETS) {
      const runs = r.runs[t];
      lines.push(
        `| ${r.name} | ${t} | ${Math.round(median(runs.map((x) => x.rps)))} | ${median(runs.map((x) => x.p50))} | ${median(runs.map((x) => x.p99))} | ${runs.map((x) => Math.round(x.rps)).join(' / ')} | ${Math.round(median(runs.map((x) => x.meanBodyBytes)))} | ${runs.reduce((a, x) => a + x.failures, 0)} |`,
      );
    }
  }
  lines.push('', '| mix | URLs | ours / ceiling | ours / naive | ours P99 ms |', '|---|---:|---:|---:|---:|');
  for (const r of results) {
    const rps = (t: Target) => median(r.runs[t].map((x) => x.rps));
    lines.push(
      `| ${r.name} | ${r.urls} | ${(rps('ours') / rps('ceiling')).toFixed(2)}× | ${(rps('ours') / rps('naive')).toFixed(2)}× | ${median(r.runs.ours.map((x) => x.p99))} |`,
    );
  }
  lines.push(
    '',
    "## Per route (ours; latency from the load generator, hit ratio from the API's own counters)",
    '',
    '| mix | route | share of requests | P50 ms | P99 ms | in-process hit ratio | non-2xx |',
    '|---|---|---:|---:|---:|---:|---:|',
  );
  for (const r of results) {
    const total = r.runs.ours.reduce(
      (a, x) => a + Object.values(x.routes).reduce((b, y) => b + y.requests, 0),
      0,
    );
    for (const route of ROUTES) {
      const rs = r.runs.ours.map((x) => x.routes[route]).filter((x) => x !== undefined);
      if (!rs.length) continue;
      const n = rs.reduce((a, x) => a + x.requests, 0);
      const hit = r.hits[route];
      lines.push(
        `| ${r.name} | ${route} | ${((100 * n) / total).toFixed(1)} % | ${median(rs.map((x) => x.p50)).toFixed(1)} | ${median(rs.map((x) => x.p99)).toFixed(1)} | ${hit ? `${(100 * hit.ratio).toFixed(2)} %` : '-'} | ${rs.reduce((a, x) => a + x.failures, 0)} |`,
      );
    }
  }
  lines.push(
    '',
    '## Memory',
    '',
    '| process | RSS at rest MB | peak RSS under the mix MB |',
    '|---|---:|---:|',
    ...TARGETS.map((t) => `| ${t} | ${mb(rest.rss[t])} | ${mb(mix.peakRss[t])} |`),
    '',
    `In-process cache of ours: ${mb(rest.cacheBytes)} MB in ${rest.cacheEntries} entries after one request per URL; ${mb(mix.cacheBytes)} MB in ${mix.cacheEntries} entries after the mix (limit QUERY_L1_MAX_MB, default 64).`,
    '',
  );
  return lines.join('\n');
}

function soakReport(o: MixOptions, c: Context, soak: SoakSample[]): string {
  const lines = header(
    o,
    c,
    `Query API soak — ${o.soakMinutes} minutes of the mix`,
    `npm run bench:query -- --mix${o.searches ? ` --searches ${o.searches}` : ''} --soak ${o.soakMinutes}`,
  );
  lines.push(
    '| minute | req/s | P99 ms | RSS MB | cache MB | non-2xx + errors |',
    '|---:|---:|---:|---:|---:|---:|',
  );
  for (const s of soak) {
    lines.push(
      `| ${s.minute} | ${Math.round(s.rps)} | ${s.p99} | ${mb(s.rss)} | ${mb(s.cacheBytes)} | ${s.failures} |`,
    );
  }
  const first = soak[0]!;
  const last = soak.at(-1)!;
  // The heap grows to its working size in the first minutes; growth over the second half is the leak test.
  const mid = soak[Math.floor((soak.length - 1) / 2)]!;
  lines.push(
    '',
    `RSS growth over the second half (end of minute ${mid.minute} → end of minute ${last.minute}): ${mb(last.rss - mid.rss)} MB; from the end of minute 1: ${mb(last.rss - first.rss)} MB. Cache bytes ${mb(first.cacheBytes)} → ${mb(last.cacheBytes)} MB.`,
    '',
  );
  return lines.join('\n');
}

function figures(
  o: MixOptions,
  c: Context,
  results: MixResult[],
  rest: AtRest,
  mix: UnderMix,
  soak?: SoakSample[],
) {
  return {
    bench: 'query-mix',
    generatedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'cpu', node: process.version },
    load: { before: c.load0, after: load() },
    settings: { ...o },
    changes: c.changes,
    mixes: results.map((r) => {
      const of = (t: Target) => ({
        rps: median(r.runs[t].map((x) => x.rps)),
        p50: median(r.runs[t].map((x) => x.p50)),
        p99: median(r.runs[t].map((x) => x.p99)),
        runs: r.runs[t],
      });
      const [ceiling, naive, ours] = [of('ceiling'), of('naive'), of('ours')];
      return {
        name: r.name,
        urls: r.urls,
        ceiling,
        naive,
        ours,
        oursOverCeiling: ours.rps / ceiling.rps,
        oursOverNaive: ours.rps / naive.rps,
        hits: r.hits,
      };
    }),
    memory: { atRest: rest, underMix: mix },
    ...(soak ? { soak } : {}),
  };
}
