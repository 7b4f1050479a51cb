import { afterAll, describe, expect, it } from 'vitest';
import { withTransaction } from '../../platform/pg.ts';
import { sleep, testPool } from '../support/db.ts';

const pool = testPool(2);
const admin = testPool(1);

afterAll(async () => {
  await pool.end();
  await admin.end();
});

describe('a transaction whose connection is ended between two statements', () => {
  it('fails that transaction, keeps the process, and the pool serves the next one', async () => {
    // Given a transaction that has run a statement and waits for something else
    const attempt = withTransaction(pool, async (client) => {
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      // When the server ends its connection meanwhile (a restart, pg_terminate_backend)
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      await sleep(200);
      return client.query('SELECT 1');
    });

    // Then the transaction fails (before this fix the client's unheard 'error' ended the process)
    await expect(attempt).rejects.toThrow();
    // And the pool's next transaction runs on a healthy connection
    const { rows } = await withTransaction(pool, (client) =>
      client.query<{ one: number }>('SELECT 1 AS one'),
    );
    expect(rows[0]?.one).toBe(1);
  });
});
