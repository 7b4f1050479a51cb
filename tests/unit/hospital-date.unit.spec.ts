/**
 * The hospital's calendar day of an instant: the day arithmetic gives the same string as the
 * hospital-time ISO date (toISOString's first ten characters), across leap years, century rules
 * and midnight at UTC+08:00.
 */
import { describe, expect, it } from 'vitest';
import { hospitalDate } from '../../read-models/hospital-date.ts';

const OFFSET_MS = 8 * 3_600_000;
const byIso = (instant: string) => new Date(Date.parse(instant) + OFFSET_MS).toISOString().slice(0, 10);

describe('hospitalDate', () => {
  it.each([
    ['1970-01-01T00:00:00Z', '1970-01-01'],
    ['1969-12-31T16:00:00Z', '1970-01-01'],
    ['1969-12-31T15:59:59.999Z', '1969-12-31'],
    ['2030-01-10T15:59:59.999Z', '2030-01-10'],
    ['2030-01-10T16:00:00.000Z', '2030-01-11'],
    ['2032-02-28T16:00:00Z', '2032-02-29'],
    ['2100-02-28T16:00:00Z', '2100-03-01'],
    ['2000-02-28T16:00:00Z', '2000-02-29'],
    ['2030-01-10T09:30:00+08:00', '2030-01-10'],
    ['9999-12-31T15:59:59.999Z', '9999-12-31'],
  ])('%s is hospital day %s', (instant, day) => {
    expect(hospitalDate(instant)).toBe(day);
    expect(hospitalDate(instant)).toBe(byIso(instant));
  });

  it('agrees with the ISO date on 100,000 instants spread over 1970-9999', () => {
    let seed = 42;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 100_000; i++) {
      const instant = new Date(Math.floor(next() * 253_402_300_799_999)).toISOString();
      if (hospitalDate(instant) !== byIso(instant)) expect(hospitalDate(instant)).toBe(byIso(instant));
    }
  });

  it('refuses what is not an instant', () => {
    expect(() => hospitalDate('tomorrow')).toThrow(RangeError);
  });
});
