/**
 * The persistent maps evolve functions change states with (domain/persistent-map.ts) behave as the
 * native Map they replace, copied per change: the same entries in the same (insertion) order, and
 * every earlier version left as it was (a cached state is never changed by the next event).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { emptyMap, withEntry, withoutKey } from '../../domain/persistent-map.ts';

type Op = { kind: 'set'; key: string; value: number } | { kind: 'delete'; key: string };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('set' as const),
    key: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
    value: fc.integer(),
  }),
  fc.record({ kind: fc.constant('delete' as const), key: fc.constantFrom('a', 'b', 'c', 'd', 'e') }),
);

const entries = (m: ReadonlyMap<string, number>) => [...m.entries()];

describe('persistent maps', () => {
  it('given any changes from a native or an empty map, then entries, order and size are those of a copied native Map, and no version changes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('a', 'x'), fc.integer()), { maxLength: 3 }),
        fc.array(opArb, { maxLength: 30 }),
        (start, ops) => {
          let ours: ReadonlyMap<string, number> = start.length > 0 ? new Map(start) : emptyMap();
          let model = new Map<string, number>(start);
          const versions: [ReadonlyMap<string, number>, [string, number][]][] = [];
          for (const op of ops) {
            versions.push([ours, entries(ours)]);
            if (op.kind === 'set') {
              ours = withEntry(ours, op.key, op.value);
              model = new Map(model).set(op.key, op.value);
            } else {
              ours = withoutKey(ours, op.key);
              model = new Map(model);
              model.delete(op.key);
            }
            expect(entries(ours)).toEqual(entries(model));
            expect(ours.size).toBe(model.size);
            for (const key of ['a', 'b', 'x']) {
              expect(ours.get(key)).toBe(model.get(key));
              expect(ours.has(key)).toBe(model.has(key));
            }
          }
          for (const [version, seen] of versions) expect(entries(version)).toEqual(seen);
        },
      ),
    );
  });
});
