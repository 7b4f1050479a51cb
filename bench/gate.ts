/**
 * P99 as an admission standard: `npm run gate` runs short versions of the command, projections
 * and query benchmarks (each against its named baseline, side by side in one run), reads the
 * figures they write as JSON, and compares them with the budgets in bench/budgets.json. It prints
 * a table (budget, measured, pass/fail) and exits non-zero naming every missed budget.
 *
 *   npm run gate                                   # bench/budgets.json
 *   npm run gate -- --budgets /tmp/strict.json     # another budgets file (also GATE_BUDGETS=<path>)
 *   npm run gate -- --keep bench/results/gate-raw  # keep the benchmarks' JSON and markdown there
 *
 * Self-sufficient on a new machine: it brings the engines up when they are down (as the tests'
 * global setup does) and runs in a namespace of its own, like a test run: a database created and
 * migrated for it (seeded with a small deterministic catalog for the query benchmark), a tag every
 * topic, group, connector, slot, index and Redis key starts with, and an advisory lock that keeps
 * a concurrent test run's sweep away; everything is removed at the end. The platform's own
 * database and read models are never read or written.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { allReady, up } from '../infra/local/launcher.ts';
import { migrate } from '../infra/migrate.ts';
import { seedIfEmpty } from '../infra/seed/seed.ts';
import { parseConfig } from '../platform/config.ts';
import { createRunDatabase, removeRun, type Engines } from '../tests/support/test-run-inventory.ts';
import { holdRunLock } from '../tests/support/test-run-sweep.ts';
import { newRunTag, runEnvironment } from '../tests/support/test-run.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_BUDGETS = join(ROOT, 'bench', 'budgets.json');
const ADMIN_URL = process.env.PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const BENCHES = ['command', 'projections', 'query'] as const;
type Bench = (typeof BENCHES)[number];

const Budget = z
  .object({
    id: z.string(),
    /** `<bench>.<path in that benchmark's JSON>`, e.g. `command.fixed.ours.p99`. */
    metric: z.string().regex(/^(command|projections|query)\.[\w.]+$/),
    what: z.string(),
    unit: z.string().default(''),
    min: z.number().optional(),
    max: z.number().optional(),
  })
  .refine((b) => (b.min === undefined) !== (b.max === undefined), 'a budget has exactly one of min or max');
type Budget = z.infer<typeof Budget>;

const Budgets = z.object({
  runs: z.object({
    command: z.object({
      duration: z.number().positive(),
      rounds: z.number().int().positive(),
      connections: z.number().int().positive(),
      targets: z.string(),
      fixedRate: z.number().positive(),
      fixedDuration: z.number().positive(),
      fixedRounds: z.number().int().positive(),
    }),
    projections: z.object({
      rounds: z.number().int().nonnegative(),
      events: z.number().int().positive(),
      rate: z.number().positive(),
      seconds: z.number().positive(),
    }),
    query: z.object({
      duration: z.number().positive(),
      rounds: z.number().int().positive(),
      connections: z.number().int().positive(),
      seed: z.object({
        institutions: z.number().int().positive(),
        cities: z.number().int().positive(),
        doctors: z.number().int().positive(),
        content: z.number().int().nonnegative(),
      }),
    }),
  }),
  budgets: z.array(Budget).min(1),
});
type Budgets = z.infer<typeof Budgets>;

const log = (line: string) => process.stderr.write(`[gate] ${line}\n`);

/** Each benchmark's command line, from the run settings (fixed duration and repeat count). */
function benchArgs(bench: Bench, runs: Budgets['runs'], dir: string): string[] {
  const out = ['--out', join(dir, `${bench}.md`), '--json', join(dir, `${bench}.json`)];
  if (bench === 'command') {
    const c = runs.command;
    return [
      'bench/command-bench.ts',
      ...['--duration', String(c.duration), '--rounds', String(c.rounds)],
      ...['--connections', String(c.connections), '--targets', c.targets],
      ...['--fixed-rate', String(c.fixedRate), '--fixed-duration', String(c.fixedDuration)],
      ...['--fixed-rounds', String(c.fixedRounds), ...out],
    ];
  }
  if (bench === 'projections') {
    const p = runs.projections;
    return [
      'bench/projections-bench.ts',
      ...['--rounds', String(p.rounds), '--events', String(p.events)],
      ...['--rate', String(p.rate), '--seconds', String(p.seconds), ...out],
    ];
  }
  const q = runs.query;
  return [
    'bench/query-bench.ts',
    ...['--duration', String(q.duration), '--rounds', String(q.rounds)],
    ...['--connections', String(q.connections), ...out],
  ];
}

/** Runs one benchmark as its own process (as `npm run bench:*` would), its output prefixed on stderr. */
function runBench(args: string[], env: NodeJS.ProcessEnv, name: string): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = (chunk: Buffer) =>
    chunk
      .toString()
      .split('\n')
      .filter((l) => l.trim() !== '')
      .forEach((l) => process.stderr.write(`[${name}] ${l}\n`));
  child.stdout.on('data', prefix);
  child.stderr.on('data', prefix);
  return new Promise((resolveExit) => child.once('exit', (code) => resolveExit(code ?? 1)));
}

interface Namespace {
  tag: string;
  databaseUrl: string;
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

function engines(): Engines {
  const parsed = parseConfig(process.env);
  if (!parsed.ok) throw new Error(`bad environment:\n${parsed.errors.join('\n')}`);
  const c = parsed.config;
  return {
    adminUrl: ADMIN_URL,
    kafkaBrokers: c.KAFKA_BROKERS,
    connectUrl: c.KAFKA_CONNECT_URL,
    searchUrl: c.SEARCH_URL,
    redisUrl: c.REDIS_URL,
  };
}

/** The gate's own namespace, as a test run has (tests/support/test-run.ts): database, tag, lock. */
async function openNamespace(): Promise<Namespace> {
  if (!(await allReady())) {
    log('engines not running: starting them (infra/local/launcher)');
    await up((line) => log(`[engines] ${line}`), undefined, { platformData: false });
  }
  const e = engines();
  const tag = newRunTag();
  const lock = await holdRunLock(e, tag);
  const { name: database, url: databaseUrl } = await createRunDatabase(e, tag);
  await migrate(databaseUrl);
  return {
    tag,
    databaseUrl,
    env: runEnvironment(tag, databaseUrl),
    async cleanup() {
      try {
        const removed = await removeRun(e, tag, database);
        log(`removed the gate's namespace ${tag}: ${JSON.stringify(removed)}`);
      } finally {
        await lock.release();
      }
    },
  };
}

const lookup = (figures: unknown, path: string[]): number | undefined => {
  let at: unknown = figures;
  for (const key of path) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return typeof at === 'number' && Number.isFinite(at) ? at : undefined;
};

interface Verdict {
  budget: Budget;
  measured: number | undefined;
  pass: boolean;
}

function judge(budget: Budget, figures: Partial<Record<Bench, unknown>>): Verdict {
  const [bench, ...path] = budget.metric.split('.') as [Bench, ...string[]];
  const measured = lookup(figures[bench], path);
  const pass =
    measured !== undefined &&
    (budget.min !== undefined ? measured >= budget.min : measured <= (budget.max ?? Infinity));
  return { budget, measured, pass };
}

const fmt = (n: number, unit: string) =>
  `${Number(n.toFixed(unit === '×' ? 2 : 1))}${unit ? ` ${unit}` : ''}`;

function table(verdicts: Verdict[]): string {
  const rows = verdicts.map((v) => {
    const b = v.budget;
    const bound = b.min !== undefined ? `≥ ${fmt(b.min, b.unit)}` : `≤ ${fmt(b.max!, b.unit)}`;
    return [
      b.id,
      b.what,
      bound,
      v.measured === undefined ? 'no figure' : fmt(v.measured, b.unit),
      v.pass ? 'pass' : 'FAIL',
    ];
  });
  const head = ['budget', 'what', 'budget', 'measured', 'result'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      budgets: { type: 'string' },
      keep: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'npm run gate [-- --budgets <path>] [-- --keep <dir>]   (GATE_BUDGETS=<path> also works)\n',
    );
    return 0;
  }
  const budgetsPath = resolve(values.budgets ?? process.env.GATE_BUDGETS ?? DEFAULT_BUDGETS);
  const config = Budgets.parse(JSON.parse(await readFile(budgetsPath, 'utf8')));
  const benches = BENCHES.filter((b) => config.budgets.some((x) => x.metric.startsWith(`${b}.`)));
  const dir = values.keep ? resolve(values.keep) : await mkdtemp(join(tmpdir(), 'gate-'));
  const started = Date.now();
  log(`budgets ${budgetsPath}; benchmarks ${benches.join(', ')}; raw figures in ${dir}`);

  const ns = await openNamespace();
  const figures: Partial<Record<Bench, unknown>> = {};
  const timings: string[] = [];
  try {
    log(`namespace ${ns.tag}: database ${new URL(ns.databaseUrl).pathname.slice(1)}`);
    if (benches.includes('query')) {
      const seeded = await seedIfEmpty(ns.databaseUrl, config.runs.query.seed);
      log(`seeded the gate's catalog: ${JSON.stringify(seeded.rows)}`);
    }
    const env = { ...process.env, ...ns.env, LOG_LEVEL: 'warn' };
    for (const bench of benches) {
      const t0 = Date.now();
      const code = await runBench(benchArgs(bench, config.runs, dir), env, bench);
      timings.push(
        `${bench} ${Math.round((Date.now() - t0) / 1000)} s${code === 0 ? '' : ` (exit ${code})`}`,
      );
      if (code === 0) figures[bench] = JSON.parse(await readFile(join(dir, `${bench}.json`), 'utf8'));
    }
  } finally {
    await ns.cleanup();
    if (!values.keep) await rm(dir, { recursive: true, force: true });
  }

  const verdicts = config.budgets.map((b) => judge(b, figures));
  const missed = verdicts.filter((v) => !v.pass);
  const out = [
    `Performance gate — ${new Date().toISOString()}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ` +
      `${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, load ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    `budgets: ${budgetsPath}`,
    `runs: ${timings.join(', ')}; total ${Math.round((Date.now() - started) / 1000)} s`,
    '',
    table(verdicts),
    '',
    missed.length === 0
      ? `gate: PASS (${verdicts.length} budgets met)`
      : `gate: FAIL — missed ${missed.length} of ${verdicts.length}: ${missed.map((v) => v.budget.id).join(', ')}`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  return missed.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(2);
  },
);
