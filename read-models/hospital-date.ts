/**
 * The hospital's calendar day. The projector files a booking under the day it was made and the
 * query API asks for "today" and for date ranges, so both sides must cut days at the same
 * instant: this module is that one rule. The hospital runs on a fixed UTC+08:00 (see
 * domain/session-time.ts for why a fixed offset is exact).
 */
import { HOSPITAL_UTC_OFFSET } from '../domain/session-time.ts';

const OFFSET_MS = 8 * 3_600_000;

const DAY_MS = 86_400_000;
/** The first instant whose hospital date has five digits (toISOString's 10000-01-01). */
const LAST_FOUR_DIGIT_MS = 253_402_300_800_000 - OFFSET_MS;

/** YYYY-MM-DD of an instant in the hospital's time zone. */
export function hospitalDate(instant: string): string {
  const ms = Date.parse(instant);
  if (Number.isNaN(ms)) throw new RangeError(`not an instant: ${instant}`);
  if (ms >= 0 && ms < LAST_FOUR_DIGIT_MS) return civilDate(Math.floor((ms + OFFSET_MS) / DAY_MS));
  return new Date(ms + OFFSET_MS).toISOString().slice(0, 10);
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : `${n}`);

/**
 * YYYY-MM-DD of a day counted from 1970-01-01 (≥ 0), by H. Hinnant's civil_from_days: the same
 * string as toISOString's first ten characters, without a Date per booking on the projector's
 * hot path (a third of the time).
 */
function civilDate(days: number): string {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1_460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return `${String(year).padStart(4, '0')}-${pad2(month)}-${pad2(day)}`;
}

/** The first instant (epoch ms) of a hospital date written YYYY-MM-DD. */
export const hospitalDayStart = (date: string): number =>
  Date.parse(`${date}T00:00:00${HOSPITAL_UTC_OFFSET}`);
