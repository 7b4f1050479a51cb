/**
 * The one way evolve functions change a map in a state: a persistent map (Immutable.js's
 * OrderedMap, insertion-ordered like a native Map) instead of a copy. Copying a native Map per event
 * made every booking O(appointments) and a fold O(appointments²): 12 µs per booking on a schedule
 * of 100, 0.13 ms at 1,000, and 67 ms to fold a full schedule of 1,000 from the store after a
 * restart (bench/results/fold.md, docs/adr/0027). States keep exposing `ReadonlyMap`: readers are unchanged, and a native
 * Map (a test's given state) is converted once, on its first change.
 */
import { OrderedMap } from 'immutable';

const persistent = <K, V>(map: ReadonlyMap<K, V>): OrderedMap<K, V> =>
  OrderedMap.isOrderedMap(map) ? (map as OrderedMap<K, V>) : OrderedMap(map);

/** `map` with `key` set to `value` (its place kept when present, last when new, as Map.set). */
export const withEntry = <K, V>(map: ReadonlyMap<K, V>, key: K, value: V): ReadonlyMap<K, V> =>
  persistent(map).set(key, value);

/** `map` without `key`. */
export const withoutKey = <K, V>(map: ReadonlyMap<K, V>, key: K): ReadonlyMap<K, V> =>
  persistent(map).delete(key);

/** An empty map of a new state. */
export const emptyMap = <K, V>(): ReadonlyMap<K, V> => OrderedMap<K, V>();
