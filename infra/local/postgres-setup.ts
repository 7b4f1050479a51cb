import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import pg from 'pg';

const ADMIN_URL = process.env.PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function waitForPostgres(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await withAdmin((c) => c.query('SELECT 1'));
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** Debian's cluster wrapper; the only cluster on this machine is `<version>/main`. */
function restartCluster(): void {
  const versions = readdirSync('/etc/postgresql');
  const version = versions.sort().at(-1);
  if (!version) throw new Error('no PostgreSQL cluster under /etc/postgresql');
  execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'restart'], {
    stdio: 'inherit',
  });
}

/**
 * Makes the running PostgreSQL ready for the platform: logical decoding for Debezium
 * (ALTER SYSTEM and a restart, only when needed), and the project's role and database.
 */
export async function preparePostgres(
  log: (line: string) => void,
  opts: { role?: string; password?: string; database?: string | null } = {},
): Promise<void> {
  const role = opts.role ?? 'booking';
  const password = opts.password ?? 'booking';
  // null: the role only (the test run creates a database of its own and leaves `booking` alone).
  const database = opts.database === undefined ? 'booking' : opts.database;
  const walLevel = await withAdmin(
    async (c) => (await c.query<{ wal_level: string }>('SHOW wal_level')).rows[0]?.wal_level,
  );
  if (walLevel !== 'logical') {
    log(`postgres: wal_level is ${walLevel}; setting it to logical and restarting the cluster…`);
    await withAdmin((c) => c.query('ALTER SYSTEM SET wal_level = logical'));
    restartCluster();
    await waitForPostgres(30_000);
  }
  await withAdmin(async (c) => {
    const ident = pg.escapeIdentifier;
    const exists = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
    if (exists.rowCount === 0) {
      await c.query(`CREATE ROLE ${ident(role)} LOGIN REPLICATION PASSWORD ${pg.escapeLiteral(password)}`);
    } else {
      await c.query(`ALTER ROLE ${ident(role)} LOGIN REPLICATION`);
    }
    if (database === null) return;
    const db = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (db.rowCount === 0) await c.query(`CREATE DATABASE ${ident(database)} OWNER ${ident(role)}`);
  });
  log(
    `postgres: ready at 127.0.0.1:5432, wal_level=logical, ${database ? `database ${database} owned by ` : 'role '}${role}`,
  );
}
