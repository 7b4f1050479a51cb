/**
 * Debezium change events as the catalog projectors see them (JsonConverter, schemas off):
 *
 *   key   {"id": 42}
 *   value {"before": {...}|null, "after": {...}|null, "op": "r"|"c"|"u"|"d",
 *          "source": {"lsn": 123, "table": "institutions", "snapshot": "true"|"last"|"false"…,
 *                     "ts_ms": …, "txId": …}, "ts_ms": …}
 *   value null — the tombstone that follows a delete (for log compaction)
 *
 * Value types (see connectors/catalog-source.json): numeric → JSON number
 * (decimal.handling.mode=double), timestamptz → ISO-8601 string, text[] → array of strings,
 * bigint → number. An unchanged TOASTed column in an update arrives as UNAVAILABLE_VALUE.
 */
import { UNAVAILABLE_VALUE } from '../../connectors/catalog-connector.ts';
import type { Row } from '../../read-models/catalog.ts';
import { PoisonError } from '../runtime/errors.ts';

export type Op = 'r' | 'c' | 'u' | 'd';

export interface ChangeEvent {
  kind: 'change';
  op: Op;
  table: string;
  /** The row's primary key, as a string (all catalog tables have a bigint `id`). */
  id: string;
  before: Row | null;
  after: Row | null;
  /**
   * WAL position of this change. For one row it only grows (a later change to a row is written
   * after the commit of the earlier one, which held the row lock), so it orders every version
   * of a row; snapshot reads carry the snapshot's position.
   */
  lsn: number;
  snapshot: boolean;
  /** Commit time in PostgreSQL (ms). */
  sourceTsMs: number;
  /** When Debezium processed it (ms). */
  tsMs: number;
}

export interface Tombstone {
  kind: 'tombstone';
  id: string;
}

export type Decoded = ChangeEvent | Tombstone;

const OPS = new Set<string>(['r', 'c', 'u', 'd']);

function parseJson(buf: Buffer, what: string): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new PoisonError(`${what} is not JSON`, { cause: err });
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function keyId(key: Buffer | null): string {
  if (!key) throw new PoisonError('change event without a key');
  const parsed = parseJson(key, 'key');
  const id = isObject(parsed) ? parsed.id : undefined;
  if (typeof id !== 'number' && typeof id !== 'string') {
    throw new PoisonError(`key has no id: ${key.toString('utf8').slice(0, 200)}`);
  }
  return String(id);
}

/** Pure: bytes of one Kafka record → a change event or a tombstone; a PoisonError for anything else. */
export function decodeChange(key: Buffer | null, value: Buffer | null): Decoded {
  const id = keyId(key);
  if (value === null || value.length === 0) return { kind: 'tombstone', id };
  const v = parseJson(value, 'value');
  if (!isObject(v)) throw new PoisonError('value is not an object');
  const { op, before, after, source } = v;
  if (typeof op !== 'string' || !OPS.has(op)) throw new PoisonError(`unknown op ${String(op)}`);
  if (!isObject(source)) throw new PoisonError('value has no source block');
  const lsn = source.lsn;
  if (typeof lsn !== 'number' || !Number.isSafeInteger(lsn)) {
    throw new PoisonError(`source.lsn is not an integer: ${String(lsn)}`);
  }
  const table = source.table;
  if (typeof table !== 'string') throw new PoisonError('source.table is missing');
  if (op === 'd' ? before !== null && !isObject(before) : !isObject(after)) {
    throw new PoisonError(`op ${op} without its row image`);
  }
  return {
    kind: 'change',
    op: op as Op,
    table,
    id,
    before: isObject(before) ? before : null,
    after: isObject(after) ? after : null,
    lsn,
    snapshot: op === 'r',
    sourceTsMs: typeof source.ts_ms === 'number' ? source.ts_ms : 0,
    tsMs: typeof v.ts_ms === 'number' ? v.ts_ms : 0,
  };
}

export const isUnavailable = (v: unknown): boolean =>
  v === UNAVAILABLE_VALUE || (Array.isArray(v) && v.length === 1 && v[0] === UNAVAILABLE_VALUE);

/** Whether an event carries a column Debezium could not read (unchanged TOAST): it needs the previous row. */
export const needsPrevious = (e: ChangeEvent): boolean =>
  e.after !== null && Object.values(e.after).some(isUnavailable);

/**
 * Pure: the row after `event`, given the row before it (null: none or unknown). Every column of
 * `after` is copied as is — a column added with ALTER TABLE shows up without code changes, a
 * dropped one disappears — except an unavailable (unchanged TOAST) value, which keeps the
 * previous row's value. A delete yields null.
 */
export function evolveRow(current: Row | null, event: ChangeEvent): Row | null {
  if (event.op === 'd') return null;
  if (!event.after) throw new PoisonError(`op ${event.op} without after`);
  const next: Row = {};
  for (const [column, value] of Object.entries(event.after)) {
    if (!isUnavailable(value)) next[column] = value;
    else if (current && column in current) next[column] = current[column];
  }
  return next;
}
