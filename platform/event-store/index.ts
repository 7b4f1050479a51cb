/**
 * The one place that picks the event store adapter: `EVENT_STORE=postgres` (default) or
 * `eventstoredb` (with `EVENTSTORE_URL`). The EventStoreDB client (gRPC) is imported only when
 * chosen, so PostgreSQL-only processes do not load it.
 */
import type { Config } from '../config.ts';
import type { Pool } from '../pg.ts';
import { PgEventStore, type PgEventStoreOptions } from './pg-event-store.ts';
import type { EsdbEventStore } from './esdb-event-store.ts';

export type EventStoreConfig = Pick<Config, 'EVENT_STORE' | 'EVENTSTORE_URL'>;

export interface EventStoreDeps {
  /** The PostgreSQL pool (the postgres store's home; unused by eventstoredb). */
  pool: Pool;
  postgres?: PgEventStoreOptions;
}

/** The chosen store, tagged so a caller that needs one store's extra guarantees can ask for it. */
export type ChosenEventStore =
  | { kind: 'postgres'; store: PgEventStore; close(): Promise<void> }
  | { kind: 'eventstoredb'; store: EsdbEventStore; close(): Promise<void> };

export async function createEventStore(
  config: EventStoreConfig,
  deps: EventStoreDeps,
): Promise<ChosenEventStore> {
  if (config.EVENT_STORE === 'postgres') {
    // The pool is the caller's: closing the store leaves it open.
    return { kind: 'postgres', store: new PgEventStore(deps.pool, deps.postgres), close: async () => {} };
  }
  if (!config.EVENTSTORE_URL) throw new Error('EVENT_STORE=eventstoredb needs EVENTSTORE_URL');
  const [{ EventStoreDBClient }, { EsdbEventStore }] = await Promise.all([
    import('@eventstore/db-client'),
    import('./esdb-event-store.ts'),
  ]);
  const client = EventStoreDBClient.connectionString(config.EVENTSTORE_URL);
  return { kind: 'eventstoredb', store: new EsdbEventStore(client), close: () => client.dispose() };
}

/**
 * For a process whose guarantees rest on the PostgreSQL store (one database transaction around
 * the events and other rows): refuses any other store at start, with the reason.
 */
export function requirePostgresEventStore(
  config: Pick<Config, 'EVENT_STORE'>,
  process: string,
  why: string,
): void {
  if (config.EVENT_STORE !== 'eventstoredb') return; // (a hand-made config without the key means the default)
  throw new Error(
    `${process} runs on the PostgreSQL event store only (EVENT_STORE=${config.EVENT_STORE} is not supported): ${why}. See docs/adr/0008-eventstoredb-adapter.md`,
  );
}
