import { z } from 'zod';

const text = (max: number) => z.string().trim().min(1).max(max);
const size = (fallback: number, max: number) => z.coerce.number().int().min(1).max(max).default(fallback);
const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date YYYY-MM-DD')
  .refine((s) => {
    const t = Date.parse(`${s}T00:00:00Z`);
    // Date.parse rolls 2024-02-30 over to March: only a date that round-trips exists.
    return !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === s;
  }, 'not a calendar date');

export const homepageQuery = z.strictObject({
  city: text(32),
  videoSize: size(4, 20),
  scienceSize: size(6, 20),
});

export const institutionsQuery = z.strictObject({
  city: text(32).optional(),
  level: text(16).optional(),
  category: text(32).optional(),
  limit: size(20, 100),
  cursor: z.string().max(512).optional(),
});

export const idParam = z.strictObject({ id: z.string().regex(/^\d{1,12}$/, 'expected a numeric id') });

export const doctorIdParam = z.strictObject({
  id: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[\w-]+$/, 'expected an id'),
});

export const schedulesQuery = z
  .strictObject({ from: isoDate.optional(), to: isoDate.optional() })
  .refine((q) => !q.from || !q.to || q.from <= q.to, { path: ['to'], message: 'must not be before from' });

export const searchQuery = z.strictObject({
  q: text(64),
  city: text(32).optional(),
  limit: size(20, 50),
  cursor: z.string().max(512).optional(),
});

export const appointmentIdParam = z.strictObject({
  id: z
    .string()
    .min(1)
    .max(80)
    .regex(/^[\w-]+$/, 'expected an appointment id'),
});
