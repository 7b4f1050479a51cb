/**
 * When a session starts, derived from its date and period.
 *
 * The hospital runs on China Standard Time (Asia/Shanghai). That zone has been a fixed
 * UTC+08:00 with no daylight-saving time since 1991, so a fixed offset is exact and keeps
 * this module pure (no tz database, no clock). If the platform ever serves a zone with DST,
 * replace `HOSPITAL_UTC_OFFSET` with a tz-database lookup.
 */
export const HOSPITAL_TIME_ZONE = 'Asia/Shanghai';
export const HOSPITAL_UTC_OFFSET = '+08:00';

export const periods = ['morning', 'afternoon', 'evening'] as const;
export type Period = (typeof periods)[number];

/** Local wall-clock start of each period. */
export const periodStartTime: Readonly<Record<Period, string>> = {
  morning: '08:00',
  afternoon: '13:00',
  evening: '18:00',
};

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** True for a real calendar date written as YYYY-MM-DD (rejects 2025-02-30). */
export function isCalendarDate(value: string): boolean {
  const m = ISO_DATE.exec(value);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const probe = new Date(Date.UTC(y, mo - 1, d));
  return probe.getUTCFullYear() === y && probe.getUTCMonth() === mo - 1 && probe.getUTCDate() === d;
}

/** The instant a session starts, e.g. 2030-01-15 morning → 2030-01-15T00:00:00.000Z (08:00 in Shanghai). */
export function sessionStart(date: string, period: Period): Date {
  return new Date(`${date}T${periodStartTime[period]}:00${HOSPITAL_UTC_OFFSET}`);
}

const DAY_MS = 86_400_000;
const OFFSET_MS = 8 * 3_600_000;

/** The hospital's calendar date (YYYY-MM-DD) at an instant. */
export function hospitalDateAt(instant: Date): string {
  return new Date(instant.getTime() + OFFSET_MS).toISOString().slice(0, 10);
}

/** The calendar date `days` after `date` (YYYY-MM-DD; negative goes back). */
export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}
