/**
 * The faults an operator sees in a normal year, each as: inject it, do what the operator does (or
 * nothing, where the platform must heal itself), and say when the fault ended. "Ended" is the
 * moment recovery is the platform's job: the kill itself for a service (its supervisor restarts
 * it), the engine answering again for an engine an operator restarts.
 */
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { status, up } from '../../infra/local/launcher.ts';
import { rootPrefix } from '../../read-models/bookings.ts';
import { ADMIN_URL, type Platform } from './platform.ts';

const exec = promisify(execFile);

export interface FaultContext {
  platform: Platform;
  redisUrl: string;
  /** Prefix of the booking read model's keys (READ_MODEL_PREFIX). */
  readModelPrefix: string;
  /** Public base URL of each service, by the supervisor's name for it. */
  serviceUrls: Record<string, string>;
  log: (line: string) => void;
}

export interface Fault {
  /** For --faults. */
  id: string;
  name: string;
  /** What the row says was done. */
  describe: string;
  /** Injects the fault; resolves with the time (ms) it ended. */
  run(ctx: FaultContext): Promise<number>;
}

const OUTAGE_MS = 15_000;

/** For the raw log: when the restarted service answered /healthz and /readyz again. */
async function logRestart(url: string, killedAt: number, service: string, log: (line: string) => void) {
  const answers = (path: string) =>
    fetch(`${url}${path}`, { signal: AbortSignal.timeout(500) }).then(
      (r) => r.status === 200,
      () => false,
    );
  for (const path of ['/healthz', '/readyz']) {
    while (!(await answers(path))) {
      if (Date.now() - killedAt > 120_000) return log(`${service}: ${path} not 200 within 120 s`);
      await sleep(100);
    }
    log(`${service}: ${path} 200 again ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`);
  }
}

function killService(service: string): Fault {
  return {
    id: service,
    name: `kill -9 ${service}`,
    describe: `SIGKILL to the ${service} process; the supervisor restarts it`,
    async run({ platform, serviceUrls, log }) {
      const pid = await platform.pidOf(service);
      process.kill(pid, 'SIGKILL');
      const killedAt = Date.now();
      log(`killed ${service} pid ${pid}`);
      const url = serviceUrls[service];
      if (url) void logRestart(url, killedAt, service, log);
      return killedAt;
    },
  };
}

function killEngine(engine: 'kafka' | 'opensearch'): Fault {
  return {
    id: engine,
    name: `kill -9 ${engine}, restart after ${OUTAGE_MS / 1000} s`,
    describe: `SIGKILL to the ${engine} JVM; ${OUTAGE_MS / 1000} s later the operator starts it again (npm run engines -- up)`,
    async run({ log }) {
      const pid = (await status()).find((e) => e.engine === engine)?.pid;
      if (pid === undefined) throw new Error(`${engine} is not running`);
      process.kill(pid, 'SIGKILL');
      log(`killed ${engine} pid ${pid}`);
      await sleep(OUTAGE_MS);
      const t0 = Date.now();
      await up(() => undefined, [engine], { platformData: false });
      log(`${engine} ready again after ${((Date.now() - t0) / 1000).toFixed(1)} s of start-up`);
      return Date.now();
    },
  };
}

const redisPause: Fault = {
  id: 'redis-pause',
  name: `Redis paused ${OUTAGE_MS / 1000} s`,
  describe: `CLIENT PAUSE ${OUTAGE_MS} ALL: Redis keeps its connections and answers nothing`,
  async run({ redisUrl, log }) {
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
    try {
      await redis.client('PAUSE', OUTAGE_MS, 'ALL');
      log(`redis paused for ${OUTAGE_MS} ms`);
    } finally {
      redis.disconnect();
    }
    await sleep(OUTAGE_MS);
    return Date.now();
  },
};

const redisFlush: Fault = {
  id: 'redis-flush',
  name: 'Redis read model flushed',
  describe:
    "every key of the run's booking read model deleted in one atomic script, as FLUSHALL deletes them (the machine's shared Redis is not flushed)",
  async run({ redisUrl, readModelPrefix, log }) {
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
    let n = 0;
    try {
      // KEYS blocks Redis for the scan (about 10 ms for 15,000 keys): here that is the point.
      n = Number(
        await redis.eval(
          `local keys = redis.call('KEYS', ARGV[1])
           for i = 1, #keys, 1000 do redis.call('UNLINK', unpack(keys, i, math.min(i + 999, #keys))) end
           return #keys`,
          0,
          `${rootPrefix(readModelPrefix)}*`,
        ),
      );
    } finally {
      redis.disconnect();
    }
    log(`deleted ${n} read-model keys`);
    return Date.now();
  },
};

const postgresRestart: Fault = {
  id: 'postgres-restart',
  name: 'PostgreSQL restart',
  describe:
    'pg_ctlcluster 15 main restart -m fast (every connection dropped; the server down for its restart)',
  async run({ log }) {
    const t0 = Date.now();
    await exec('pg_ctlcluster', ['15', 'main', 'restart', '-m', 'fast']);
    log(`postgresql restarted in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return Date.now();
  },
};

const longTransaction: Fault = {
  id: 'long-transaction',
  name: `${OUTAGE_MS / 1000} s transaction elsewhere`,
  describe: `a transaction in another database holds an xid for ${OUTAGE_MS / 1000} s (ADR 0002: it holds the relay back)`,
  async run({ log }) {
    const client = new pg.Client({ connectionString: ADMIN_URL, application_name: 'chaos-long-transaction' });
    await client.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid');
      log(`long transaction xid ${rows[0]?.xid} open`);
      await client.query('SELECT pg_sleep($1)', [OUTAGE_MS / 1000]);
      await client.query('COMMIT');
    } finally {
      await client.end();
    }
    return Date.now();
  },
};

export const FAULTS: readonly Fault[] = [
  killService('command-api'),
  killService('projections'),
  killService('catalog-projections'),
  killService('query-api'),
  killEngine('kafka'),
  killEngine('opensearch'),
  redisPause,
  redisFlush,
  postgresRestart,
  longTransaction,
];
