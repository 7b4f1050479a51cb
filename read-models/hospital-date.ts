/**
 * The hospital's calendar day. The projector files a booking under the day it was made and the
 * query API asks for "today" and for date ranges, so both sides must cut days at the same
 * instant: this module is that one rule. The hospital runs on a fixed UTC+08:00 (see
 * domain/session-time.ts for why a fixed offset is exact).
 */
import { HOSPITAL_UTC_OFFSET } from '../domain/session-time.ts';

const OFFSET_MS = 8 * 3_600_000;

/** YYYY-MM-DD of an instant in the hospital's time zone. */
export function hospitalDate(instant: string): string {
  const ms = Date.parse(instant);
  if (Number.isNaN(ms)) throw new RangeError(`not an instant: ${instant}`);
  return new Date(ms + OFFSET_MS).toISOString().slice(0, 10);
}

/** The first instant (epoch ms) of a hospital date written YYYY-MM-DD. */
export const hospitalDayStart = (date: string): number =>
  Date.parse(`${date}T00:00:00${HOSPITAL_UTC_OFFSET}`);
