/**
 * Query API benchmark (autocannon), side by side in one run, for the homepage and one
 * institution-list page, against two named baselines:
 *   ceiling  a bare node:http server answering the same bytes
 *   naive    Express with one Redis GET + JSON parse/stringify per request
 * The read models are filled by the real catalog pipeline (Debezium snapshot of the seeded
 * catalog → CDC projectors → a private Redis prefix). Run: npm run bench:query
 *
 * `npm run bench:query -- --tracing` instead compares the query API with the OpenTelemetry preload
 * (platform/telemetry-register.ts, spans exported to the local Zipkin) against the same API without
 * it, side by side, and writes the head of bench/results/tracing.md (keeping the other sections).
 *
 * Options: --duration <s> --rounds <n> --connections <n> (defaults: BENCH_DURATION 10,
 * BENCH_ROUNDS 3, BENCH_CONNECTIONS 50), --out <path> (the markdown elsewhere), --json <path>
 * (the figures as JSON, what `npm run gate` reads).
 *
 * `npm run bench:query -- --mix [--searches N] [--soak <minutes>] [--changes <rows/s>] [--note <text>]`
 * runs the mixed workload instead (bench/query-mix.ts: ~1,400 URLs by Zipf popularity, catalog
 * changes through CDC, in its own namespace) and writes bench/results/query-mix.md (2 rounds by default).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { loadConfig } from '../platform/config.ts';
import { createCatalogPipeline } from '../tests/support/catalog-pipeline.ts';
import { uniqueName, waitFor } from '../tests/support/wait.ts';
import { mixBench, type MixOptions } from './query-mix.ts';
import { writeHead } from './results-file.ts';

const { values: args } = parseArgs({
  options: {
    tracing: { type: 'boolean', default: false },
    duration: { type: 'string', default: process.env.BENCH_DURATION ?? '10' },
    rounds: { type: 'string', default: process.env.BENCH_ROUNDS ?? '3' },
    connections: { type: 'string', default: process.env.BENCH_CONNECTIONS ?? '50' },
    out: { type: 'string' },
    json: { type: 'string' },
    // The mixed workload (bench/query-mix.ts): --mix [--searches N] [--soak <minutes>] [--changes <rows/s>]
    mix: { type: 'boolean', default: false },
    searches: { type: 'string', default: '0' },
    soak: { type: 'string' },
    changes: { type: 'string', default: '10' },
    zipf: { type: 'string', default: '1' },
    note: { type: 'string' },
  },
});
const DURATION = Number(args.duration);
const ROUNDS = Number(args.rounds);
const CONNECTIONS = Number(args.connections);
const TRACING = args.tracing;
type Target = 'ceiling' | 'naive' | 'ours' | 'traced';
const targets: readonly Target[] = TRACING ? ['ours', 'traced'] : ['ceiling', 'naive', 'ours'];

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function startServer(kind: Target, port: number, env: Record<string, string>): Promise<ChildProcess> {
  // `traced` is `ours` started with the telemetry preload, as the supervisor starts the services.
  const preload = kind === 'traced' ? ['--import', './platform/telemetry-register.ts'] : [];
  const server = kind === 'traced' ? 'ours' : kind;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', ...preload, 'bench/query-servers.ts', server, String(port)],
    {
      env: {
        ...process.env,
        ...env,
        LOG_LEVEL: 'warn',
        OTEL_SDK_DISABLED: kind === 'traced' ? 'false' : 'true',
        OTEL_SERVICE_NAME: 'query-api-bench',
      },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    },
  );
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
}

async function run(
  port: number,
  path: string,
  opts: { duration: number; overallRate?: number; connections?: number },
) {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}${path}`,
    connections: opts.connections ?? CONNECTIONS,
    duration: opts.duration,
    ...(opts.overallRate ? { overallRate: opts.overallRate } : {}),
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx + result.errors + result.timeouts,
  };
}

async function main(): Promise<void> {
  const config = loadConfig();
  const started = new Date();
  const load0 = loadavg();
  console.log('filling a private read model from the seeded catalog (Debezium snapshot)…');
  const p = await createCatalogPipeline(config, { tag: 'qbench' });
  const children: ChildProcess[] = [];
  try {
    await p.applyConnector();
    await p.startProjection(['redis']);
    const { rows } = await p.db.query<{ city: string }>(
      `SELECT city FROM institutions WHERE status = 'active' GROUP BY city ORDER BY count(*) DESC, city LIMIT 1`,
    );
    const active = Number(
      (await p.db.query<{ n: string }>(`SELECT count(*) AS n FROM institutions WHERE status = 'active'`))
        .rows[0]!.n,
    );
    const city = rows[0]?.city;
    if (!city) throw new Error('the catalog is empty: run `npm run seed` first');
    await waitFor(async () => ((await p.redis.zcard(p.keys.institutionsAll)) >= active ? true : undefined), {
      timeoutMs: 300_000,
      intervalMs: 500,
      what: `${active} institutions in Redis`,
    });
    const paths = {
      homepage: `/v1/homepage?city=${encodeURIComponent(city)}`,
      list: `/v1/institutions?city=${encodeURIComponent(city)}&limit=20`,
    };

    const ports: Record<Target, number> = { ours: 39_102, ceiling: 39_100, naive: 39_101, traced: 39_103 };
    const oursEnv = {
      BENCH_CATALOG_PREFIX: p.keys.prefix,
      BENCH_SEARCH_ALIAS: p.alias,
      BENCH_READ_MODEL_ROOT: uniqueName('rm'),
    };
    children.push(await startServer('ours', ports.ours, oursEnv));
    if (TRACING) children.push(await startServer('traced', ports.traced, oursEnv));
    const bodies: Record<string, string> = {};
    const naivePrefix = `${uniqueName('bench:naive')}:`;
    for (const path of Object.values(paths)) {
      const res = await fetch(`http://127.0.0.1:${ports.ours}${path}`);
      if (res.status !== 200) throw new Error(`${path} -> ${res.status}`);
      const body = Buffer.from(await res.arrayBuffer());
      bodies[path] = body.toString('base64');
      await p.redis.set(`${naivePrefix}${path}`, body.toString('utf8'), 'EX', 3600);
    }
    const bodiesFile = join(tmpdir(), `${uniqueName('bench-bodies')}.json`);
    writeFileSync(bodiesFile, JSON.stringify(bodies));
    if (!TRACING) {
      children.push(await startServer('ceiling', ports.ceiling, { BENCH_BODIES_FILE: bodiesFile }));
      children.push(await startServer('naive', ports.naive, { BENCH_NAIVE_PREFIX: naivePrefix }));
    }

    for (const t of targets)
      for (const path of Object.values(paths)) await run(ports[t], path, { duration: 2 });

    const results = new Map<string, Row>();
    for (let round = 1; round <= ROUNDS; round++) {
      for (const t of targets) {
        for (const [name, path] of Object.entries(paths)) {
          const r = await run(ports[t], path, { duration: DURATION });
          const key = `${name}:${t}`;
          const row = results.get(key) ?? { rps: [], p50: [], p99: [], non2xx: 0 };
          row.rps.push(r.rps);
          row.p50.push(r.p50);
          row.p99.push(r.p99);
          row.non2xx += r.non2xx;
          results.set(key, row);
          console.log(`round ${round} ${key}: ${Math.round(r.rps)} req/s, P99 ${r.p99} ms`);
        }
      }
    }

    if (TRACING) {
      // After the runs the entry may be stale or reloaded; ask until the fast path answers (l1-hit).
      let traced = await fetch(`http://127.0.0.1:${ports.traced}${paths.homepage}`);
      for (let i = 0; i < 20 && traced.headers.get('x-cache') !== 'l1-hit'; i++) {
        await traced.arrayBuffer();
        await new Promise((r) => setTimeout(r, 50));
        traced = await fetch(`http://127.0.0.1:${ports.traced}${paths.homepage}`);
      }
      const hit = `X-Cache: ${traced.headers.get('x-cache') ?? '-'}, X-Trace-Id: ${traced.headers.get('x-trace-id') ?? 'none'}`;
      const lines = [
        '# Query API with tracing on and off — homepage and institution list',
        '',
        `Generated by \`npm run bench:query -- --tracing\` on ${started.toISOString()}.`,
        '',
        `- Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; Node ${process.version}; Redis, Zipkin and the load generator on the same host`,
        `- Load: autocannon, ${CONNECTIONS} connections, ${DURATION} s per run after a 2 s warm-up, ${ROUNDS} rounds interleaved (off, on); each server in its own process; LOG_LEVEL=warn`,
        '- off: the query API without the telemetry preload (OTEL_SDK_DISABLED=true); on: the same API started with `--import ./platform/telemetry-register.ts` (http, express, ioredis, … instrumentations; spans to Zipkin)',
        `- Both pages are answered by the cache-hit fast path once warm, which the http instrumentation is told to leave alone (no span, no trace id; a warm homepage response with tracing on: ${hit})`,
        `- Data: the seeded catalog (${active} active institutions), city ${city}`,
        `- Host load average before: ${load0.map((x) => x.toFixed(2)).join(', ')}; after: ${loadavg()
          .map((x) => x.toFixed(2))
          .join(', ')}`,
        '',
        '| page | tracing | req/s (median) | P50 ms | P99 ms (median) | runs (req/s) | non-2xx + errors |',
        '|---|---|---:|---:|---:|---|---:|',
      ];
      for (const name of Object.keys(paths)) {
        for (const t of targets) {
          const row = results.get(`${name}:${t}`)!;
          lines.push(
            `| ${name} | ${t === 'traced' ? 'on' : 'off'} | ${Math.round(median(row.rps))} | ${median(row.p50)} | ${median(row.p99)} | ${row.rps.map((x) => Math.round(x)).join(' / ')} | ${row.non2xx} |`,
          );
        }
      }
      lines.push('', '| page | on / off |', '|---|---:|');
      for (const name of Object.keys(paths)) {
        const ratio = median(results.get(`${name}:traced`)!.rps) / median(results.get(`${name}:ours`)!.rps);
        lines.push(`| ${name} | ${ratio.toFixed(2)}× |`);
      }
      await writeHead(args.out ?? 'bench/results/tracing.md', `${lines.join('\n')}\n`);
      console.log(lines.join('\n'));
      return;
    }

    const fixed: Record<string, { rate: number; rps: number; p50: number; p99: number; non2xx: number }> = {};
    for (const [name, path] of Object.entries(paths)) {
      const rate = Math.round(median(results.get(`${name}:ours`)!.rps) / 2);
      const r = await run(ports.ours, path, { duration: DURATION * 2, overallRate: rate, connections: 20 });
      fixed[name] = { rate, ...r };
      console.log(`fixed ${name} at ${rate}/s: P99 ${r.p99} ms`);
    }

    const lines: string[] = [
      '# Query benchmark — homepage and institution list',
      '',
      `Generated by \`npm run bench:query\` on ${started.toISOString()}.`,
      '',
      `- Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; Node ${process.version}; Redis and the load generator on the same host`,
      `- Load: autocannon, ${CONNECTIONS} connections, ${DURATION} s per run after a 2 s warm-up, ${ROUNDS} rounds interleaved (ceiling, naive, ours); each server in its own process; LOG_LEVEL=warn (no per-request access log) for all three`,
      `- Data: the seeded catalog (${active} active institutions) snapshotted by Debezium into a private Redis prefix by the real CDC projector; city ${city}`,
      `- Host load average before: ${load0.map((x) => x.toFixed(2)).join(', ')}; after: ${loadavg()
        .map((x) => x.toFixed(2))
        .join(', ')}`,
      '',
      '| page | target | req/s (median) | P50 ms | P99 ms (median) | runs (req/s) | non-2xx + errors |',
      '|---|---|---:|---:|---:|---|---:|',
    ];
    for (const name of Object.keys(paths)) {
      for (const t of targets) {
        const row = results.get(`${name}:${t}`)!;
        lines.push(
          `| ${name} | ${t} | ${Math.round(median(row.rps))} | ${median(row.p50)} | ${median(row.p99)} | ${row.rps.map((x) => Math.round(x)).join(' / ')} | ${row.non2xx} |`,
        );
      }
    }
    lines.push('', '| page | ours / ceiling | ours / naive |', '|---|---:|---:|');
    for (const name of Object.keys(paths)) {
      const ours = median(results.get(`${name}:ours`)!.rps);
      lines.push(
        `| ${name} | ${(ours / median(results.get(`${name}:ceiling`)!.rps)).toFixed(2)}× | ${(ours / median(results.get(`${name}:naive`)!.rps)).toFixed(2)}× |`,
      );
    }
    lines.push('', '## Fixed rate (half of our measured maximum)', '');
    lines.push(
      '| page | rate req/s | achieved | P50 ms | P99 ms | non-2xx + errors |',
      '|---|---:|---:|---:|---:|---:|',
    );
    for (const [name, f] of Object.entries(fixed)) {
      lines.push(`| ${name} | ${f.rate} | ${Math.round(f.rps)} | ${f.p50} | ${f.p99} | ${f.non2xx} |`);
    }
    const out = args.out ?? 'bench/results/query.md';
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${lines.join('\n')}\n`);
    if (args.json) writeJson(args.json, { results, fixed, active, city, load0, paths: Object.keys(paths) });
    console.log(lines.join('\n'));
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await p.cleanup();
  }
}

type Row = { rps: number[]; p50: number[]; p99: number[]; non2xx: number };

/** The figures of a run as JSON: per page and target the medians and runs, the ratios, the fixed-rate row. */
function writeJson(
  path: string,
  r: {
    results: Map<string, Row>;
    fixed: Record<string, { rate: number; rps: number; p50: number; p99: number; non2xx: number }>;
    active: number;
    city: string;
    load0: number[];
    paths: string[];
  },
): void {
  const pages = Object.fromEntries(
    r.paths.map((page) => {
      const of = (t: Target) => {
        const row = r.results.get(`${page}:${t}`)!;
        return {
          rps: median(row.rps),
          p50: median(row.p50),
          p99: median(row.p99),
          runs: row.rps,
          failures: row.non2xx,
        };
      };
      const [ceiling, naive, ours] = [of('ceiling'), of('naive'), of('ours')];
      return [
        page,
        {
          ceiling,
          naive,
          ours,
          oursOverCeiling: ours.rps / ceiling.rps,
          oursOverNaive: ours.rps / naive.rps,
          fixed: r.fixed[page],
        },
      ];
    }),
  );
  const figures = {
    bench: 'query',
    generatedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'cpu', node: process.version },
    load: { before: r.load0, after: loadavg() },
    settings: { duration: DURATION, rounds: ROUNDS, connections: CONNECTIONS },
    data: { activeInstitutions: r.active, city: r.city },
    pages,
  };
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(figures, null, 2)}\n`);
}

const mixOptions = (): MixOptions => ({
  duration: Number(args.duration),
  rounds: Number(process.env.BENCH_ROUNDS ?? (process.argv.includes('--rounds') ? args.rounds : '2')),
  connections: CONNECTIONS,
  searches: Number(args.searches),
  changesPerSecond: Number(args.changes),
  zipf: Number(args.zipf),
  ...(args.soak ? { soakMinutes: Number(args.soak) } : {}),
  ...(args.note ? { note: args.note } : {}),
  ...(args.out ? { out: args.out } : {}),
  ...(args.json ? { json: args.json } : {}),
});

(args.mix || args.soak ? mixBench(mixOptions()) : main()).then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
