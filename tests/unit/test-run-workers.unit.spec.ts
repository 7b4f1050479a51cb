import { describe, expect, it } from 'vitest';
import { intWorkers, workerDatabaseUrl, workerTag } from '../support/test-run.ts';

describe('integration workers: a namespace each inside the run', () => {
  it('worker 1 keeps the run tag; the others extend it, so every name still starts with the run tag', () => {
    expect(workerTag('t0a1b2c_', 1)).toBe('t0a1b2c_');
    expect(workerTag('t0a1b2c_', 2)).toBe('t0a1b2c_w2_');
    expect(workerTag('t0a1b2c_', 3).startsWith('t0a1b2c_')).toBe(true);
  });

  it("a worker's database is the run's server and role with the worker's name", () => {
    const run = 'postgres://booking:secret@127.0.0.1:5432/t0a1b2c_booking?application_name=x';
    expect(workerDatabaseUrl(run, 't0a1b2c_', 2)).toBe(
      'postgres://booking:secret@127.0.0.1:5432/t0a1b2c_w2_booking?application_name=x',
    );
    expect(workerDatabaseUrl(run, 't0a1b2c_', 1)).toBe(run);
  });

  it('INT_WORKERS: a whole number from 1 to 8, else the default of 3', () => {
    expect(intWorkers({})).toBe(3);
    expect(intWorkers({ INT_WORKERS: '1' })).toBe(1);
    expect(intWorkers({ INT_WORKERS: '0' })).toBe(3);
    expect(intWorkers({ INT_WORKERS: 'two' })).toBe(3);
    expect(intWorkers({ INT_WORKERS: '2.5' })).toBe(3);
  });
});
