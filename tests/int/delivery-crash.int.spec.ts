/**
 * kill -9 of the delivery worker mid-stream (docs/adr/0016): the worker runs as its own process
 * (`delivery/main.ts`), is killed with SIGKILL while deliveries are in flight, more bookings are
 * published while it is dead, and a new process takes over once the killed one's lease ran out.
 * The receiver must end with every booking, numbered 1..n in order with no gap; what the killed
 * process had sent but not recorded comes again and is dropped by its sequence number.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafka, defaultPartitioner } from '../../platform/kafka.ts';
import type { Pool } from '../../platform/pg.ts';
import { migrateTestDatabase, testPool } from '../support/db.ts';
import {
  ensureEventsTopic,
  EventFeed,
  givenInstitution,
  type Institution,
} from '../support/delivery-fixtures.ts';
import { testConfig } from '../support/test-config.ts';
import { uniqueName, waitFor } from '../support/wait.ts';

const config = testConfig();
const topic = uniqueName('delivery_crash');
const group = uniqueName('delivery_crash');
const children: ChildProcess[] = [];
let pool: Pool;
let producer: Producer;
let feed: EventFeed;
let inst: Institution | undefined;

beforeAll(async () => {
  await migrateTestDatabase();
  await ensureEventsTopic(config, topic);
  pool = testPool(5);
  producer = createKafka(config).producer({ createPartitioner: defaultPartitioner });
  await producer.connect();
  feed = new EventFeed(pool, config, producer, topic);
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  await producer?.disconnect();
  if (inst) await feed?.cleanup([inst]);
  await pool?.end();
});

async function spawnWorker(): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'delivery/main.ts'], {
    env: {
      ...process.env,
      PORT: '',
      DELIVERY_PORT: '0',
      ADMIN_PORT: '0',
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
      DELIVERY_EVENTS_TOPIC: topic,
      DELIVERY_GROUP: group,
      DELIVERY_CONFIG_POLL_MS: '200',
      DELIVERY_POLL_MS: '50',
      DELIVERY_LEASE_MS: '1500',
      DELIVERY_RETRY_BASE_MS: '50',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`delivery worker exited early:\n${out}`);
      return out.includes('"delivery worker ready"') ? true : undefined;
    },
    { what: 'the delivery worker ready', timeoutMs: 60_000 },
  );
  return { child, output: () => out };
}

describe('kill -9 of the delivery worker', () => {
  it('loses and reorders nothing at the receiver', async () => {
    inst = await givenInstitution(pool, { latencyMs: 40 });
    const mock = inst.mock;
    const scheduleId = await feed.openSchedule(inst.id);
    const first = await feed.book(scheduleId, 30);

    const a = await spawnWorker();
    await waitFor(() => (mock.applied().length >= 8 ? true : undefined), {
      what: 'deliveries under way',
      timeoutMs: 30_000,
    });
    const exited = new Promise((resolve) => a.child.once('exit', resolve));
    a.child.kill('SIGKILL');
    await exited;
    const atKill = mock.applied().length;
    const second = await feed.book(scheduleId, 10);

    await spawnWorker();
    const expected = [...first, ...second].map((b) => b.eventId);
    await waitFor(() => (mock.applied().length === expected.length ? true : undefined), {
      what: 'every booking at the receiver',
      timeoutMs: 45_000,
    });
    console.log(
      `[delivery crash] killed with ${atKill}/30 applied; ${mock.duplicates.length} duplicate(s) dropped by sequence; ` +
        `${mock.gaps.length} gap(s)`,
    );
    expect(atKill).toBeLessThan(30);
    const applied = mock.applied(inst.id);
    expect(applied.map((d) => d.eventId)).toEqual(expected);
    expect(applied.map((d) => d.seq)).toEqual(expected.map((_, i) => i + 1));
    expect(mock.gaps).toEqual([]);
    // The last answer is recorded a moment after the receiver applied it.
    const row = await waitFor(
      async () => {
        const { rows } = await pool.query<{ n: string; max: string; delivered: string }>(
          `SELECT count(*) AS n, max(seq) AS max, count(*) FILTER (WHERE status = 'delivered') AS delivered
             FROM delivery_outbox WHERE institution_id = $1`,
          [inst!.id],
        );
        return rows[0]?.delivered === '40' ? rows[0] : undefined;
      },
      { what: 'every delivery recorded' },
    );
    expect(row).toEqual({ n: '40', max: '40', delivered: '40' });
  });
});
