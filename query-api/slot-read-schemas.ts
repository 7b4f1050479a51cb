/** Request parameters of the slot read routes (issue 15): schedule slots, patient list, day list. */
import { z } from 'zod';

const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date YYYY-MM-DD')
  .refine((s) => {
    const t = Date.parse(`${s}T00:00:00Z`);
    return !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === s;
  }, 'not a calendar date');
const key = (what: string) =>
  z
    .string()
    .min(1)
    .max(80)
    .regex(/^[\w-]+$/, `expected ${what}`);

export const scheduleIdParam = z.strictObject({ id: key('a schedule id') });

/** Institutions are named as the schedules name them (the principal's `institutionId`). */
export const institutionKeyParam = z.strictObject({ id: key('an institution id') });

export const patientAppointmentsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(512).optional(),
});

export const dayListQuery = z.strictObject({ doctorId: key('a doctor id'), date: isoDate });
