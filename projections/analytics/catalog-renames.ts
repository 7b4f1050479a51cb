/**
 * Carrying catalog changes into the analytics documents already written: an update of an
 * institution, department or doctor row becomes one "set these fields where the id is X and any
 * of them differs" over the analytics alias. The catalog CDC projector runs it (a consumer group
 * of its own, projections/catalog/projectors.ts); new documents get the current facts from the
 * catalog tables when they are written (catalog-lookup.ts).
 *
 * Only updates: a snapshot read or an insert concerns a row no appointment can reference yet
 * (and re-checking every catalog row on a new snapshot would be tens of thousands of queries), a
 * delete leaves history with the names it had.
 */
import type { Query, SearchEngine } from '../../platform/search/index.ts';
import { isUnavailable, type ChangeEvent } from '../catalog/change-event.ts';
import { departmentFields, doctorFields, institutionFields } from './analytics-model.ts';

export interface CatalogPatch {
  /** The id field of the analytics documents concerned (`institutionId`, …). */
  idField: 'institutionId' | 'departmentId' | 'doctorId';
  id: string;
  set: Record<string, string | null>;
}

/** Catalog text columns arrive as JSON strings; anything else is not a name. */
const text = (v: unknown): string | null =>
  typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null;

/** Pure: the analytics fields a catalog change sets, or undefined when it sets none. */
export function patchOf(change: ChangeEvent): CatalogPatch | undefined {
  if (change.op !== 'u' || !change.after) return undefined;
  const row = change.after;
  const col = (c: string) => text(row[c]);
  let patch: CatalogPatch;
  if (change.table === 'institutions') {
    patch = {
      idField: 'institutionId',
      id: change.id,
      set: institutionFields({
        name: col('name') ?? change.id,
        city: col('city'),
        district: col('district'),
        level: col('level'),
        type: col('type'),
      }),
    };
  } else if (change.table === 'departments') {
    patch = {
      idField: 'departmentId',
      id: change.id,
      set: departmentFields({ name: col('name') ?? change.id, category: col('category') }),
    };
  } else if (change.table === 'doctors') {
    patch = {
      idField: 'doctorId',
      id: change.id,
      set: doctorFields({ name: col('name') ?? change.id, title: col('title') }),
    };
  } else return undefined;
  // A column Debezium could not read (unchanged TOAST) is left as the documents have it.
  const source: Record<string, string> = {
    institutionName: 'name',
    city: 'city',
    district: 'district',
    institutionLevel: 'level',
    institutionType: 'type',
    departmentName: 'name',
    departmentCategory: 'category',
    doctorName: 'name',
    doctorTitle: 'title',
  };
  for (const field of Object.keys(patch.set)) {
    if (isUnavailable(row[source[field]!])) delete patch.set[field];
  }
  return Object.keys(patch.set).length > 0 ? patch : undefined;
}

/** Pure: the documents of the id where any field differs from the patch (so a patched one no longer matches). */
export function patchQuery(patch: CatalogPatch): Query {
  const differs = Object.entries(patch.set).map(([field, value]) =>
    value === null ? { exists: { field } } : { bool: { must_not: { term: { [field]: value } } } },
  );
  return {
    bool: {
      filter: [{ term: { [patch.idField]: patch.id } }],
      should: differs,
      minimum_should_match: 1,
    },
  };
}

/**
 * Applies the changes of a batch in order (the last change of a row wins); returns how many
 * documents changed. Idempotent: a replayed change finds nothing left to patch. No analytics
 * index yet: nothing to do.
 */
export async function propagateCatalogChanges(
  engine: SearchEngine,
  alias: string,
  changes: readonly ChangeEvent[],
): Promise<number> {
  const latest = new Map<string, CatalogPatch>();
  for (const change of changes) {
    const patch = patchOf(change);
    if (patch) latest.set(`${change.table}:${change.id}`, patch);
  }
  if (latest.size === 0 || (await engine.aliasTargets(alias)).length === 0) return 0;
  let changed = 0;
  for (const patch of latest.values())
    changed += await engine.updateWhere(alias, patchQuery(patch), patch.set);
  return changed;
}
