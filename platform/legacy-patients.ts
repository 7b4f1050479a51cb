/**
 * Reading events stored in the clear shape of v1 (the patient's id in AppointmentBooked and
 * AppointmentCancelled, and as the patient actor): each read path that loads events — the command
 * side's stream load, the relay, the projectors' history reads and Kafka records, the rebuild —
 * passes them through here, so what it hands on is v2 with the id sealed (docs/adr/0010). The
 * vault does the I/O (it creates the patient's key on first sight); the shape change is the pure
 * upcaster of domain/event-versions.ts. `npm run patients:encrypt` rewrites the store once, after
 * which this finds nothing to do.
 */
import { clearPatientIdOf, type ResolvedPatient, withResolvedPatient } from '../domain/event-versions.ts';
import type { EventStore, RecordedEvent } from './event-store/event-store.ts';

export interface PatientResolver {
  resolve(patientId: string): Promise<ResolvedPatient>;
}

type Legacy = { type: string; data: unknown; metadata: Readonly<Record<string, unknown>> };

/** The events with every v1 appointment event lifted to v2 (the others, and the order, unchanged). */
export async function sealLegacyPatients<E extends Legacy>(
  events: readonly E[],
  vault: PatientResolver | undefined,
): Promise<E[]> {
  const clear = new Set<string>();
  for (const e of events) {
    const id = clearPatientIdOf(e);
    if (id !== undefined) clear.add(id);
  }
  if (clear.size === 0 || !vault) return [...events];
  const resolved = new Map<string, ResolvedPatient>();
  for (const id of clear) resolved.set(id, await vault.resolve(id));
  return events.map((e) => {
    const id = clearPatientIdOf(e);
    return id === undefined ? e : withResolvedPatient(e, resolved.get(id)!);
  });
}

/** A store whose reads hand out v2 only (its writes and everything else unchanged). */
export function sealingReads<
  S extends Partial<Pick<EventStore<unknown>, 'readStream' | 'readAll' | 'lockedTransaction'>>,
>(store: S, vault: PatientResolver): S {
  const readStream: EventStore<unknown>['readStream'] = async (streamId, opts) =>
    sealLegacyPatients<RecordedEvent>(await store.readStream!(streamId, opts), vault);
  const readAll: EventStore<unknown>['readAll'] = async (from, batchSize) => {
    const result = await store.readAll!(from, batchSize);
    return { ...result, events: await sealLegacyPatients<RecordedEvent>(result.events, vault) };
  };
  // A locked transaction's reads are the command side's stream load, so they are sealed too.
  const lockedTransaction: EventStore<unknown>['lockedTransaction'] = (streamId, work) =>
    store.lockedTransaction!(streamId, (tx) =>
      work({
        handle: tx.handle,
        appendToStream: (id, events, expected) => tx.appendToStream(id, events, expected),
        readStream: async (id, opts) =>
          sealLegacyPatients<RecordedEvent>(await tx.readStream(id, opts), vault),
      }),
    );
  // A proxy, not a copy: the store's methods keep their own `this` (private fields and all).
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'readStream' && target.readStream) return readStream;
      if (prop === 'readAll' && target.readAll) return readAll;
      if (prop === 'lockedTransaction' && target.lockedTransaction) return lockedTransaction;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
