/**
 * Two command API instances booking one hot schedule (docs/adr/0028): does either instance starve,
 * and how long does an answer take, with our retry settings (short backoff, the stream lock for a
 * command that keeps losing) against the settings before them and two alternatives.
 *
 * Each round opens a schedule of `--capacity` places; `--workers` closed-loop clients per instance
 * book fresh patients on it until it is full (a careful client: a shed request is sent again after
 * its Retry-After). Rounds alternate the variants; each figure is the median over the rounds.
 * All instances run in this process (separate pools, queues and caches, one event loop), as the
 * contention tests run them; its namespace (bench-namespace.ts) is removed at the end.
 *
 *   npm run bench:contention -- [--rounds 5] [--capacity 500] [--workers 16] [--out bench/results/contention.md]
 */
import { randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { openBenchNamespace } from './bench-namespace.ts';
import { writeHead } from './results-file.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    capacity: { type: 'string', default: '500' },
    workers: { type: 'string', default: '16' },
    out: { type: 'string', default: 'bench/results/contention.md' },
  },
});
const rounds = Number(values.rounds);
const capacity = Number(values.capacity);
const workers = Number(values.workers);

// A namespace of its own (database and all), exported before the harness reads DATABASE_URL. The
// harness adds the catalog rows it books against; the seed is kept minimal.
const namespace = await openBenchNamespace({ institutions: 1, cities: 1, doctors: 1, content: 0 });

const { book, openSchedule, randomPatient, startCommandApi } =
  await import('../tests/support/command-api-harness.ts');
const { sendAsCarefulClient } = await import('../tests/support/careful-client.ts');
type Harness = Awaited<ReturnType<typeof startCommandApi>>;

const NEVER = Number.POSITIVE_INFINITY;
const VARIANTS = {
  ours: {},
  before: { retry: { initialDelayMs: 5, maxDelayMs: 200, lockAfter: NEVER } },
  'short-backoff-no-lock': { retry: { lockAfter: NEVER } },
  'lock-at-once': { retry: { lockAfter: 1, lockAfterMs: 0 } },
} as const;
type Variant = keyof typeof VARIANTS;

interface Round {
  variant: Variant;
  seconds: number;
  booked: number;
  conflicts: number;
  shed: number;
  /** Every answer's (201 and schedule_full), first send to answer. */
  latencies: number[];
  /** Bookings each instance made. */
  split: number[];
  retries: number;
  locks: number;
}

async function counter(h: Harness, name: string): Promise<number> {
  const text = (await h.admin.get('/metrics')).text;
  return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
}

const counters = async (pair: Harness[]) => {
  let retries = 0;
  let locks = 0;
  for (const h of pair) {
    retries += await counter(h, 'command_concurrency_retries_total');
    locks += await counter(h, 'command_stream_locks_total');
  }
  return { retries, locks };
};

async function round(variant: Variant, pair: Harness[]): Promise<Round> {
  const scheduleId = await openSchedule(pair[0]!, { capacity });
  const before = await counters(pair);
  const shed = { n: 0 };
  const latencies: number[] = [];
  let booked = 0;
  const split = pair.map(() => 0);
  let conflicts = 0;
  let full = false;
  const worker = async (h: Harness, i: number) => {
    while (!full) {
      const patient = randomPatient();
      await h.tokenFor({ sub: patient, role: 'patient' });
      const key = randomUUID();
      const started = performance.now();
      const r = await sendAsCarefulClient(() => book(h, scheduleId, patient, key), shed);
      const code = r.status === 201 ? '201' : String((r.body as { code?: unknown } | null)?.code);
      latencies.push(performance.now() - started);
      if (code === '201') {
        booked += 1;
        split[i] = (split[i] ?? 0) + 1;
      } else if (code === 'schedule_full') full = true;
      else if (code === 'concurrency_conflict') conflicts += 1;
      else throw new Error(`unexpected answer ${r.status} ${code}`);
    }
  };
  const t0 = performance.now();
  await Promise.all(pair.flatMap((h, i) => Array.from({ length: workers }, () => worker(h, i))));
  const seconds = (performance.now() - t0) / 1000;
  const after = await counters(pair);
  return {
    variant,
    seconds,
    booked,
    conflicts,
    shed: shed.n,
    latencies,
    split,
    retries: after.retries - before.retries,
    locks: after.locks - before.locks,
  };
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};
const median = (xs: number[]) => quantile(xs, 0.5);
const f1 = (x: number) => x.toFixed(1);

const pairs = Object.fromEntries(Object.keys(VARIANTS).map((v) => [v, []])) as unknown as Record<
  Variant,
  Harness[]
>;
const slow = (r: Round) => r.latencies.filter((ms) => ms >= 1000).length;
const load0 = loadavg()[0] ?? 0;
const results: Round[] = [];
try {
  for (const v of Object.keys(VARIANTS) as Variant[])
    pairs[v] = await Promise.all(
      [0, 1].map(() => startCommandApi({ poolSize: 10, maxSockets: 200, commands: VARIANTS[v] })),
    );
  for (let i = 0; i < rounds; i++)
    for (const v of Object.keys(VARIANTS) as Variant[]) {
      const r = await round(v, pairs[v]);
      results.push(r);
      console.log(
        `round ${i + 1} ${v.padEnd(16)} ${f1(r.booked / r.seconds)} bookings/s  P99 ${f1(quantile(r.latencies, 0.99))} ms  max ${f1(Math.max(...r.latencies))} ms  ≥1 s ${slow(r)}  split ${r.split.join('/')}  conflicts ${r.conflicts}  retries ${r.retries}  locks ${r.locks}  shed ${r.shed}`,
      );
    }
} finally {
  await Promise.all(
    Object.values(pairs)
      .flat()
      .map((h) => h.stop()),
  );
  await namespace.cleanup();
}

const rows = (Object.keys(VARIANTS) as Variant[]).map((v) => {
  const rs = results.filter((r) => r.variant === v);
  const m = (f: (r: Round) => number) => median(rs.map(f));
  const cells = [
    v,
    f1(m((r) => r.booked / r.seconds)),
    f1(m((r) => quantile(r.latencies, 0.5))),
    f1(m((r) => quantile(r.latencies, 0.99))),
    rs.map((r) => f1(Math.max(...r.latencies))).join(' / '),
    rs.map((r) => Math.min(...r.split)).join(' / '),
    String(rs.reduce((n, r) => n + slow(r), 0)),
    String(rs.reduce((n, r) => n + r.conflicts, 0)),
    String(m((r) => r.retries)),
    String(m((r) => r.locks)),
    String(m((r) => r.shed)),
  ];
  return `| ${cells.join(' | ')} |`;
});
const report = `# Two instances on one hot schedule: retries, backoff and the stream lock (ADR 0028)

Generated by \`npx tsx bench/contention-bench.ts --rounds ${rounds} --capacity ${capacity} --workers ${workers}\` on ${new Date().toISOString().slice(0, 16)}Z.

- Machine: ${cpus().length} × ${cpus()[0]?.model.split(' ').slice(0, 2).join(' ') ?? '?'}; Node ${process.version}; PostgreSQL over TCP on the same host; load average ${load0.toFixed(2)} at the start, ${(loadavg()[0] ?? 0).toFixed(2)} at the end
- Each round: one schedule of ${capacity} places; ${workers} closed-loop clients per instance, two instances (separate pools, queues and caches; one process, one event loop), booking fresh patients until the schedule is full; a shed request is sent again after its Retry-After
- Variants (same code, command-path options): **ours**, the defaults (backoff 1 ms growing to 10 ms; the stream lock once a command lost 3 races and 250 ms); **before**, this session's start (backoff 5 ms growing to 200 ms, no lock); **short-backoff-no-lock**; **lock-at-once** (every retry under the lock). All include the catch-up read after a lost race.
- Latency: every answer's (201 and schedule_full), from its first send; a client whose instance is starved waits, then hears schedule_full. Rounds alternate the variants; figures are medians over ${rounds} rounds unless marked per round or summed

| variant | bookings/s | P50 ms | P99 ms | max ms per round | bookings of the less served instance, per round (of ${capacity}) | answers after ≥ 1 s (all rounds) | concurrency_conflict answers | conflict retries | locked attempts | shed and sent again |
| --- | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |
${rows.join('\n')}
`;
await writeHead(values.out, report);
console.log(report);
