/**
 * A command that keeps losing optimistic races takes the stream's lock (docs/adr/0028). The race
 * is made deterministic: each time the victim is about to commit, a second instance books on the
 * same schedule first. Without the lock the victim loses until its deadline; with it, its fourth
 * attempt holds the other instance off and books.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  book,
  type Harness,
  openSchedule,
  randomPatient,
  startCommandApi,
} from '../support/command-api-harness.ts';
import { lockWaitOrSettled } from '../support/db.ts';

let victim: Harness;
let byDefault: Harness;
let unlocked: Harness;
let rival: Harness;
/** The rival's sessions, told apart in pg_stat_activity. */
const rivalName = `rival-${randomUUID()}`;

beforeAll(async () => {
  // Three lost races and no time threshold: the counts below are exact.
  victim = await startCommandApi({ poolSize: 4, commands: { retry: { lockAfter: 3, lockAfterMs: 0 } } });
  byDefault = await startCommandApi({ poolSize: 4 });
  unlocked = await startCommandApi({
    poolSize: 4,
    commands: { retry: { lockAfter: Number.POSITIVE_INFINITY, deadlineMs: 1_500 } },
  });
  rival = await startCommandApi({ poolSize: 4, poolName: rivalName });
});

afterAll(async () => {
  await Promise.all([victim.stop(), byDefault.stop(), unlocked.stop(), rival.stop()]);
});

/** Before each commit of `h`'s command, the rival books first (or is seen waiting for the lock). */
function rivalBooksFirst(h: Harness, scheduleId: string) {
  const rivals: Promise<{ status: number }>[] = [];
  h.hooks.beforeCommit = async () => {
    const sent = book(rival, scheduleId, randomPatient());
    rivals.push(sent);
    // Until it booked, or waits on a lock (the victim's: the only one it can meet).
    await lockWaitOrSettled(h.pool, rivalName, sent);
  };
  return rivals;
}

async function counter(h: Harness, name: string): Promise<number> {
  const text = (await h.admin.get('/metrics')).text;
  return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? 'NaN');
}

/** One booking on `h` while the rival books first at each of its attempts; what it cost. */
async function bookAgainstTheRival(h: Harness) {
  const scheduleId = await openSchedule(h, { capacity: 1_000 });
  const retriesBefore = await counter(h, 'command_concurrency_retries_total');
  const locksBefore = await counter(h, 'command_stream_locks_total');
  const rivals = rivalBooksFirst(h, scheduleId);
  try {
    const answer = await book(h, scheduleId, randomPatient());
    return {
      answer,
      rivals: (await Promise.all(rivals)).map((r) => r.status),
      retries: (await counter(h, 'command_concurrency_retries_total')) - retriesBefore,
      locks: (await counter(h, 'command_stream_locks_total')) - locksBefore,
    };
  } finally {
    h.hooks.beforeCommit = undefined;
  }
}

describe('a command that keeps losing the race to another instance', () => {
  it('without the lock: loses every race until its deadline, then answers concurrency_conflict', async () => {
    const { answer, rivals, locks } = await bookAgainstTheRival(unlocked);
    expect(answer.status).toBe(409);
    expect(answer.body.code).toBe('concurrency_conflict');
    expect(rivals.length).toBeGreaterThan(3);
    expect(rivals).toEqual(rivals.map(() => 201));
    expect(locks).toBe(0);
  });

  it('with it: the fourth attempt holds the other instance off and books; the other books after', async () => {
    const { answer, rivals, retries, locks } = await bookAgainstTheRival(victim);
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    // Three races lost, then one attempt under the lock; the rival held off then books too.
    expect(rivals).toEqual([201, 201, 201, 201]);
    expect(retries).toBe(3);
    expect(locks).toBe(1);
  });

  it('with the defaults (3 races and 250 ms): takes the lock once, then books', async () => {
    const { answer, rivals, retries, locks } = await bookAgainstTheRival(byDefault);
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    expect(retries).toBeGreaterThanOrEqual(3);
    expect(rivals).toEqual(Array.from({ length: retries + 1 }, () => 201));
    expect(locks).toBe(1);
  });
});
