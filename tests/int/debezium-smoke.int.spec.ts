import pg from 'pg';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectClient } from '../../connectors/connect-client.ts';
import { createKafka } from '../../platform/kafka.ts';
import { testConfig } from '../support/test-config.ts';
import { uniqueName, waitFor } from '../support/wait.ts';

interface ChangeEvent {
  op: 'r' | 'c' | 'u' | 'd';
  before: { id: number; name: string } | null;
  after: { id: number; name: string } | null;
}

describe('Debezium PostgreSQL connector on the real Connect worker', () => {
  const config = testConfig();
  const connect = new ConnectClient(config.KAFKA_CONNECT_URL);
  const table = uniqueName('scratch');
  const name = uniqueName('smoke-dbz');
  const slot = uniqueName('smoke_slot');
  const publication = uniqueName('smoke_pub');
  const prefix = uniqueName('smoke');
  const topic = `${prefix}.public.${table}`;
  let db: pg.Client;
  let kafka: Kafka;

  beforeAll(async () => {
    db = new pg.Client({ connectionString: config.DATABASE_URL });
    await db.connect();
    await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, name text NOT NULL)`);
    await db.query(`ALTER TABLE ${table} REPLICA IDENTITY FULL`);
    kafka = createKafka(config, undefined, name);
  });

  afterAll(async () => {
    await connect.delete(name);
    // The slot is released when the task stops; drop it so no WAL is retained for a dead connector.
    await waitFor(
      async () => {
        const r = await db.query('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot]);
        if (r.rowCount === 0) return true;
        if (r.rows[0].active) return undefined;
        await db.query('SELECT pg_drop_replication_slot($1)', [slot]);
        return true;
      },
      { timeoutMs: 30_000, what: 'replication slot released' },
    );
    await db.query(`DROP PUBLICATION IF EXISTS ${publication}`);
    await db.query(`DROP TABLE IF EXISTS ${table}`);
    const admin = kafka.admin();
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (topics.length) await admin.deleteTopics({ topics });
    await admin.disconnect();
    await db.end();
  });

  it('streams inserts, updates and deletes with op, before and after', async () => {
    const url = new URL(config.DATABASE_URL);
    await connect.apply(name, {
      'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
      'database.hostname': url.hostname,
      'database.port': url.port || '5432',
      'database.user': decodeURIComponent(url.username),
      'database.password': decodeURIComponent(url.password),
      'database.dbname': url.pathname.slice(1),
      'topic.prefix': prefix,
      'plugin.name': 'pgoutput',
      'slot.name': slot,
      'publication.name': publication,
      'publication.autocreate.mode': 'filtered',
      'table.include.list': `public.${table}`,
      'snapshot.mode': 'no_data',
      'topic.creation.default.replication.factor': '1',
      'topic.creation.default.partitions': '1',
    });
    await connect.waitRunning(name);
    // The slot exists once streaming has started; changes made before that would be missed with no_data.
    await waitFor(
      async () =>
        (await db.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot])).rowCount
          ? true
          : undefined,
      { timeoutMs: 30_000, what: 'replication slot' },
    );

    await db.query(`INSERT INTO ${table} VALUES (1, '协和'), (2, '华西')`);
    await db.query(`UPDATE ${table} SET name = '协和医院' WHERE id = 1`);
    await db.query(`DELETE FROM ${table} WHERE id = 2`);

    const events: ChangeEvent[] = [];
    await waitFor(
      async () => {
        const admin = kafka.admin();
        await admin.connect();
        try {
          return (await admin.listTopics()).includes(topic) ? true : undefined;
        } finally {
          await admin.disconnect();
        }
      },
      { timeoutMs: 30_000, what: `topic ${topic}` },
    );
    const consumer = kafka.consumer({ groupId: uniqueName('smoke-dbz-reader') });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (message.value) events.push(JSON.parse(message.value.toString()) as ChangeEvent);
      },
    });
    await waitFor(() => (events.length >= 4 ? true : undefined), {
      timeoutMs: 30_000,
      what: '4 change events',
    });
    await consumer.disconnect();

    expect(events.map((e) => e.op)).toEqual(['c', 'c', 'u', 'd']);
    expect(events[0]!.after).toEqual({ id: 1, name: '协和' });
    expect(events[2]!.before).toEqual({ id: 1, name: '协和' });
    expect(events[2]!.after).toEqual({ id: 1, name: '协和医院' });
    expect(events[3]!.before).toEqual({ id: 2, name: '华西' });
    expect(events[3]!.after).toBeNull();
  });
});
