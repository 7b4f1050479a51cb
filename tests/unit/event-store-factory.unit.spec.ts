import { describe, expect, it } from 'vitest';
import { EsdbEventStore } from '../../platform/event-store/esdb-event-store.ts';
import { createEventStore, requirePostgresEventStore } from '../../platform/event-store/index.ts';
import { PgEventStore } from '../../platform/event-store/pg-event-store.ts';
import type { Pool } from '../../platform/pg.ts';
import { startCommandApi } from '../../command-api/start.ts';
import { parseConfig } from '../../platform/config.ts';
import { parseProjectionsConfig } from '../../projections/config.ts';
import { startProjections } from '../../projections/start.ts';

const pool = {} as Pool; // neither store touches it before the first call

describe('createEventStore', () => {
  it('builds the PostgreSQL store on the given pool by default', async () => {
    const chosen = await createEventStore({ EVENT_STORE: 'postgres', EVENTSTORE_URL: undefined }, { pool });
    expect(chosen.kind).toBe('postgres');
    expect(chosen.store).toBeInstanceOf(PgEventStore);
    await chosen.close();
  });

  it('builds the EventStoreDB store from EVENTSTORE_URL (the client connects on first use)', async () => {
    const chosen = await createEventStore(
      { EVENT_STORE: 'eventstoredb', EVENTSTORE_URL: 'esdb://127.0.0.1:2113?tls=false' },
      { pool },
    );
    expect(chosen.kind).toBe('eventstoredb');
    expect(chosen.store).toBeInstanceOf(EsdbEventStore);
    await chosen.close();
    await expect(
      createEventStore({ EVENT_STORE: 'eventstoredb', EVENTSTORE_URL: undefined }, { pool }),
    ).rejects.toThrow(/EVENTSTORE_URL/);
  });

  it('lets a PostgreSQL-only process refuse another store with its reason', () => {
    expect(() =>
      requirePostgresEventStore({ EVENT_STORE: 'postgres' }, 'the command API', 'x'),
    ).not.toThrow();
    expect(() =>
      requirePostgresEventStore({ EVENT_STORE: 'eventstoredb' }, 'the command API', 'one transaction'),
    ).toThrow(
      /^the command API runs on the PostgreSQL event store only \(EVENT_STORE=eventstoredb .*one transaction/,
    );
  });
});

describe('processes that run on PostgreSQL only', () => {
  const env = { EVENT_STORE: 'eventstoredb', EVENTSTORE_URL: 'esdb://127.0.0.1:2113?tls=false' };
  const parsed = parseConfig(env);
  const projections = parseProjectionsConfig(env);
  if (!parsed.ok || !projections.ok) throw new Error('bad test configuration');

  it('refuse EVENT_STORE=eventstoredb before opening anything, saying why', async () => {
    await expect(startCommandApi({ config: parsed.config, migrate: false })).rejects.toThrow(
      /^the command API runs on the PostgreSQL event store only .*Idempotency-Key in one PostgreSQL transaction/,
    );
    await expect(
      startProjections({ platform: parsed.config, projections: projections.config }),
    ).rejects.toThrow(/^the projections process runs on the PostgreSQL event store only .*relay/);
  });
});
