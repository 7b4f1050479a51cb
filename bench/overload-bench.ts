/**
 * `npm run bench:overload`: the booking command under open-loop overload, flow control on and off
 * in the same run (issue 16).
 *
 *   1. a namespace of its own: a database `<tag>booking` created, migrated and dropped at the end,
 *      flow rules under `<tag>flow:rules` (nothing stored: the file default);
 *   2. the command API in a child process (`--serve on|off`): `on` = default rules, system
 *      protection and the pool's breakers; `off` = no rule, no system protection, no breaker;
 *   3. the maximum: closed loop (autocannon, 64 connections) against `on`; the unloaded P99: open
 *      loop at a tenth of it;
 *   4. open loop (request i due at start + i/rate, latency from its due time: no coordinated
 *      omission) at 1×, 2×, 4× the maximum against each mode: goodput (201/s), P99 of admitted
 *      (201) requests, status counts, lost (a 201 whose appointment is not in the store).
 *
 *   npx tsx bench/overload-bench.ts [--duration 5] [--out bench/results/overload.md]
 *
 * Search is not measured yet (it needs an index of its own in the engine).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';
import { startCommandApi } from '../command-api/start.ts';
import { addDays, hospitalDateAt } from '../domain/session-time.ts';
import { migrate } from '../infra/migrate.ts';
import { parseConfig } from '../platform/config.ts';
import { defaultFlowRules } from '../platform/flow/default-rules.ts';
import { parseFlowRules } from '../platform/flow/rules.ts';
import { signToken } from '../platform/http/auth.ts';
import { createLogger } from '../platform/logger.ts';
import { freePort } from '../platform/free-port.ts';
import { sendAsCarefulClient } from '../tests/support/careful-client.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const ADMIN_URL = process.env.PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const SECRET = 'overload-bench-secret-0123456789-abcdef';
const OFF_RULES = parseFlowRules({
  resources: {},
  system: { maxInFlight: null, bbr: false, maxEventLoopDelayMs: null },
});
/** `bbr`: the default rules with BBR judged always, not only while the event loop lags. */
const BBR_ALWAYS = (() => {
  const rules = defaultFlowRules();
  return { ...rules, system: { ...rules.system, bbrTriggerDelayMs: 0 } };
})();
type Mode = 'on' | 'bbr' | 'off';

const log = (m: string) => console.log(`[overload] ${m}`);

/** API children still running: killed when the benchmark ends, however it ends (none is orphaned). */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** Child: the command API on `port`, flow control on or off. */
async function serve(mode: Mode, port: number): Promise<void> {
  const parsed = parseConfig(process.env);
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  const handle = await startCommandApi({
    config: { ...parsed.config, JWT_SECRET: SECRET, PATIENT_COMMANDS_PER_MINUTE: 0 },
    logger: createLogger('overload-api', 'warn'),
    port,
    adminPort: 0,
    migrate: false,
    app: {
      idempotencyPurgeIntervalMs: 0,
      ...(mode === 'off' ? { flowRules: OFF_RULES, pgGuard: false } : {}),
      ...(mode === 'bbr' ? { flowRules: BBR_ALWAYS } : {}),
    },
  });
  process.send?.('ready');
  process.once('SIGTERM', () => void handle.stop(1000).then(() => process.exit(0)));
}

async function startChild(
  mode: Mode,
  env: NodeJS.ProcessEnv,
): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve', mode, '--port', String(port)],
    {
      env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  children.add(child);
  child.once('exit', () => children.delete(child));
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`API child exited ${code}`)));
  });
  return { port, child };
}

const stopChild = (child: ChildProcess) =>
  new Promise<void>((r) => {
    child.once('exit', () => r());
    child.kill('SIGTERM');
  });

interface Namespace {
  databaseUrl: string;
  tag: string;
  drop(): Promise<void>;
}

async function openNamespace(): Promise<Namespace> {
  const tag = `ob${randomBytes(3).toString('hex')}_`;
  const base = new URL(process.env.DATABASE_URL ?? 'postgres://booking:booking@127.0.0.1:5432/booking');
  const database = `${tag}booking`;
  const owner = decodeURIComponent(base.username) || 'booking';
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)} OWNER ${pg.escapeIdentifier(owner)}`);
  await admin.end();
  base.pathname = `/${database}`;
  await migrate(base.href);
  return {
    databaseUrl: base.href,
    tag,
    async drop() {
      const c = new pg.Client({ connectionString: ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Schedules of capacity 1000 (two doctors, 50 days × 3 periods each), opened through the API. */
async function openSchedules(
  databaseUrl: string,
  port: number,
  count: number,
): Promise<{ ids: string[]; token: string }> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  const inst = await db.query<{ id: string }>(
    `INSERT INTO institutions (name, city, level, type) VALUES ('overload hospital', 'overload city', '三级甲等', '综合医院') RETURNING id`,
  );
  const institutionId = String(inst.rows[0]!.id);
  const dept = await db.query<{ id: string }>(
    `INSERT INTO departments (institution_id, name, category) VALUES ($1, 'overload', '内科') RETURNING id`,
    [institutionId],
  );
  const departmentId = String(dept.rows[0]!.id);
  const doctors: string[] = [];
  for (let i = 0; i < Math.ceil(count / 150); i++) {
    const d = await db.query<{ id: string }>(
      `INSERT INTO doctors (institution_id, department_id, name, title) VALUES ($1, $2, 'overload doctor', '主治医师') RETURNING id`,
      [institutionId, departmentId],
    );
    doctors.push(String(d.rows[0]!.id));
  }
  await db.end();
  const token = await signToken(
    SECRET,
    { sub: 'overload-hospital', role: 'hospital', institutionId },
    { expiresIn: '2h' },
  );
  const today = hospitalDateAt(new Date());
  const ids: string[] = [];
  for (let i = 0; i < count; i += 25) {
    const batch = Array.from({ length: Math.min(25, count - i) }, (_, j) => i + j);
    const opened = await Promise.all(
      batch.map(async (n) => {
        const key = randomUUID();
        const body = JSON.stringify({
          doctorId: doctors[Math.floor(n / 150)],
          institutionId,
          departmentId,
          date: addDays(today, 1 + Math.floor((n % 150) / 3)),
          period: (['morning', 'afternoon', 'evening'] as const)[n % 3],
          capacity: 1000,
          fee: 1000,
        });
        // Set-up, not the measurement: a burst a cold process sheds (system protection) is sent again.
        const res = await sendAsCarefulClient(async () => {
          const r = await fetch(`http://127.0.0.1:${port}/v1/schedules`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              authorization: `Bearer ${token}`,
              'idempotency-key': key,
            },
            body,
          });
          const json = (await r.json()) as { scheduleId?: string; code?: string };
          return { status: r.status, body: json, headers: { 'retry-after': r.headers.get('retry-after') } };
        });
        if (res.status !== 201 || !res.body.scheduleId)
          throw new Error(`open schedule: ${res.status} ${JSON.stringify(res.body)}`);
        return res.body.scheduleId;
      }),
    );
    ids.push(...opened);
  }
  return { ids, token };
}

interface Bookings {
  scheduleIds: string[];
  token: string;
  next: number;
}

const bookingBody = (b: Bookings, n: number) =>
  JSON.stringify({ scheduleId: b.scheduleIds[n % b.scheduleIds.length], patientId: `op-${n}` });

async function closedLoopMax(port: number, b: Bookings, duration: number): Promise<number> {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: 64,
    duration,
    requests: [
      {
        method: 'POST',
        path: '/v1/appointments',
        setupRequest: (req) => {
          const n = (b.next += 1);
          return {
            ...req,
            body: bookingBody(b, n),
            headers: {
              'content-type': 'application/json',
              authorization: `Bearer ${b.token}`,
              'idempotency-key': randomUUID(),
            },
          };
        },
      },
    ],
  });
  return result['2xx'] / duration;
}

interface OpenLoopResult {
  rate: number;
  goodput: number;
  p99Admitted: number;
  statuses: Record<string, number>;
  errors: number;
  created: string[];
}

async function openLoop(port: number, b: Bookings, rate: number, duration: number): Promise<OpenLoopResult> {
  // Below the server's connection cap (HTTP_MAX_CONNECTIONS 1024): beyond it requests queue here, counted from their due time.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1000 });
  const total = Math.round(rate * duration);
  const interval = 1000 / rate;
  const admitted: number[] = [];
  const statuses: Record<string, number> = {};
  const created: string[] = [];
  let errors = 0;
  const inFlight: Promise<void>[] = [];
  const start = performance.now();
  const send = (due: number) =>
    new Promise<void>((resolve) => {
      const n = (b.next += 1);
      const body = bookingBody(b, n);
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/v1/appointments',
          agent,
          timeout: 30_000,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            authorization: `Bearer ${b.token}`,
            'idempotency-key': randomUUID(),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.once('end', () => {
            const status = res.statusCode ?? 0;
            statuses[status] = (statuses[status] ?? 0) + 1;
            if (status === 201) {
              admitted.push(performance.now() - due);
              const id = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { appointmentId?: string })
                .appointmentId;
              if (id) created.push(id);
            }
            resolve();
          });
        },
      );
      req.once('timeout', () => req.destroy(new Error('timeout')));
      req.once('error', () => {
        errors += 1;
        resolve();
      });
      req.end(body);
    });
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (next < total && start + next * interval <= now) {
        inFlight.push(send(start + next * interval));
        next += 1;
      }
      if (next >= total) return resolve();
      setTimeout(tick, Math.max(0, start + next * interval - performance.now()));
    };
    tick();
  });
  await Promise.all(inFlight);
  agent.destroy();
  const sorted = admitted.sort((x, y) => x - y);
  const p99 = sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)] ?? 0;
  // Per second of the whole step, until the last answer (a server that queues takes longer than `duration`).
  const elapsed = (performance.now() - start) / 1000;
  return { rate, goodput: sorted.length / elapsed, p99Admitted: p99, statuses, errors, created };
}

async function lost(databaseUrl: string, ids: string[]): Promise<number> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  let found = 0;
  for (let i = 0; i < ids.length; i += 5000) {
    const { rows } = await db.query<{ n: string }>(
      'SELECT count(*) AS n FROM appointment_index WHERE appointment_id = ANY($1::uuid[])',
      [ids.slice(i, i + 5000)],
    );
    found += Number(rows[0]!.n);
  }
  await db.end();
  return ids.length - found;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      serve: { type: 'string' },
      port: { type: 'string' },
      duration: { type: 'string', default: '5' },
      schedules: { type: 'string', default: '300' },
      out: { type: 'string', default: join(HERE, 'results', 'overload.md') },
    },
  });
  if (values.serve) return serve(values.serve as Mode, Number(values.port));
  const duration = Number(values.duration);
  const ns = await openNamespace();
  log(`namespace ${ns.tag}: ${ns.databaseUrl}`);
  const env = {
    ...process.env,
    DATABASE_URL: ns.databaseUrl,
    FLOW_RULES_KEY: `${ns.tag}flow:rules`,
    LOG_LEVEL: 'warn',
  };
  const rows: string[] = [];
  try {
    const on = await startChild('on', env);
    // The hospital books for its patients: one token, a fresh patient id per booking.
    const opened = await openSchedules(ns.databaseUrl, on.port, Number(values.schedules));
    const b: Bookings = { scheduleIds: opened.ids, token: opened.token, next: 0 };
    log(`${b.scheduleIds.length} schedules open`);
    await closedLoopMax(on.port, b, 2); // warm-up (JIT, pool)
    const max = await closedLoopMax(on.port, b, duration);
    log(`maximum (closed loop, 64 connections, flow control on): ${max.toFixed(0)} bookings/s`);
    const unloaded = await openLoop(on.port, b, Math.max(10, Math.round(max / 10)), duration);
    log(`unloaded P99 (open loop at ${Math.round(max / 10)}/s): ${unloaded.p99Admitted.toFixed(1)} ms`);
    await stopChild(on.child);
    const created: string[] = [...unloaded.created];
    for (const mode of ['on', 'bbr', 'off'] as const) {
      // One process per mode, warmed up (JIT, pool) before its steps.
      const api = await startChild(mode, env);
      await closedLoopMax(api.port, b, 2);
      for (const factor of [1, 2, 4]) {
        const r = await openLoop(api.port, b, Math.round(max * factor), duration);
        created.push(...r.created);
        const codes = Object.entries(r.statuses)
          .map(([s, n]) => `${s}: ${n}`)
          .join(', ');
        const onlyAllowed =
          Object.keys(r.statuses).every((s) => /^(2\d\d|409|429|503)$/.test(s)) && r.errors === 0;
        const row = `| ${mode} | ${factor}× (${r.rate}/s) | ${r.goodput.toFixed(0)} (${((100 * r.goodput) / max).toFixed(0)}%) | ${r.p99Admitted.toFixed(1)} (${(r.p99Admitted / Math.max(1, unloaded.p99Admitted)).toFixed(1)}×) | ${codes}${r.errors ? `, socket errors: ${r.errors}` : ''} | ${onlyAllowed ? 'yes' : 'no'} |`;
        log(row);
        rows.push(row);
        await new Promise((res) => setTimeout(res, 1000)); // let the queue drain between steps
      }
      await stopChild(api.child);
    }
    const missing = await lost(ns.databaseUrl, created);
    log(`lost: ${missing} of ${created.length} acknowledged bookings`);
    const text = `# Overload benchmark (booking command)

\`npm run bench:overload -- --duration ${duration}\` on ${new Date().toISOString().slice(0, 10)}; one command API process (child), open loop, ${duration} s per step; one process per mode, warmed up by a 2 s closed loop first.

- Maximum (closed loop, 64 connections, flow control on): **${max.toFixed(0)} bookings/s**
- Unloaded P99 (open loop at a tenth of the maximum): **${unloaded.p99Admitted.toFixed(1)} ms**
- Lost (a 201 whose appointment is not in the store): **${missing} of ${created.length}**

\`on\`: default rules (system protection's BBR judged only while the event loop lags 100 ms); \`bbr\`: the same with BBR judged always; \`off\`: no rule, no system protection, no pool breaker. Goodput is 201s per second of the whole step (until the last answer); latency counts from each request's due time.

| flow control | rate | goodput (201/s, % of max) | P99 of admitted ms (× unloaded) | statuses | only 2xx/409/429/503 |
| --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

Targets with flow control on (issue 16): goodput at 4× ≥ 90% of the maximum; P99 of admitted ≤ 3× the unloaded P99; only 2xx, 409, 429, 503; nothing lost.
Search is not measured yet.
`;
    await writeFile(values.out, text);
    log(`wrote ${values.out}`);
  } finally {
    await ns.drop();
  }
}

await main();
