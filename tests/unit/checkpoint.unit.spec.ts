import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkpointParts, compareCheckpoints, isCheckpoint } from '../../platform/event-store/checkpoint.ts';
import { InvalidCheckpointError } from '../../platform/event-store/event-store.ts';

const part = fc.bigInt({ min: 0n, max: 2n ** 63n - 1n });
const cp = (a: bigint, b: bigint) => `${a}:${b}`;

describe('store-agnostic checkpoints', () => {
  it('order as (major, minor) pairs, whatever the digits count', () => {
    fc.assert(
      fc.property(part, part, part, part, (a1, a2, b1, b2) => {
        const expected = a1 !== b1 ? (a1 < b1 ? -1 : 1) : a2 !== b2 ? (a2 < b2 ? -1 : 1) : 0;
        expect(compareCheckpoints(cp(a1, a2), cp(b1, b2))).toBe(expected);
        expect(checkpointParts(cp(a1, a2))).toEqual([a1, a2]);
      }),
    );
    // Numeric, not lexicographic: 9 < 10.
    expect(compareCheckpoints('9:1', '10:0')).toBe(-1);
  });

  it('tell a checkpoint from anything else', () => {
    expect(isCheckpoint('12:5')).toBe(true);
    for (const bad of [
      '',
      '1',
      '1:',
      ':1',
      'a:b',
      '1:2:3',
      '-1:2',
      ' 1:2',
      '1:2 ',
      '123456789012345678901:1',
    ]) {
      expect(isCheckpoint(bad)).toBe(false);
      expect(() => checkpointParts(bad)).toThrow(InvalidCheckpointError);
    }
  });
});
