/**
 * What the query API answers, as zod schemas: the OpenAPI document and the generated clients read
 * them. Catalog rows carry every column Debezium delivered, so only the fields clients rely on
 * are named and the rest passes through.
 */
import { z } from 'zod';
import { periods } from '../domain/session-time.ts';

const id = z.union([z.int(), z.string()]);
const cursor = z.string().nullable().describe('Opaque cursor of the next page; null on the last page');

/** A catalog row (institution, department, doctor, homepage content) as projected. */
export const catalogRow = z.looseObject({ id });

export const homepage = z.strictObject({
  city: z.string(),
  date: z.string(),
  banners: z.array(catalogRow),
  featuredInstitutions: z.array(catalogRow.extend({ bookingsToday: z.int() })),
  hotDepartments: z.array(
    z.strictObject({
      departmentId: z.string(),
      bookings: z.number(),
      name: z.string().nullable(),
      category: z.string().nullable(),
      institutionId: id.nullable(),
    }),
  ),
  videos: z.array(z.strictObject({ tab: z.string(), items: z.array(catalogRow) })),
  science: z.array(z.strictObject({ tab: z.string(), items: z.array(catalogRow) })),
  stats: z.strictObject({ date: z.string(), totalBookings: z.number() }),
});

export const institutionsPage = z.strictObject({
  items: z.array(catalogRow),
  limit: z.int(),
  nextCursor: cursor,
});

export const institution = z.strictObject({ institution: catalogRow });

export const institutionDepartments = z.strictObject({
  institutionId: z.string(),
  departments: z.array(catalogRow),
});

export const doctorSchedules = z.strictObject({
  doctorId: z.string(),
  from: z.string(),
  to: z.string(),
  schedules: z.array(
    z.strictObject({
      scheduleId: z.string(),
      doctorId: z.string(),
      institutionId: z.string(),
      departmentId: z.string(),
      date: z.string(),
      period: z.enum(periods),
      sessionStartsAt: z.string(),
      fee: z.number(),
      capacity: z.int(),
      booked: z.int(),
      status: z.enum(['open', 'closed']),
      /** Places still bookable (0 once closed). */
      remaining: z.int(),
    }),
  ),
});

export const institutionSearch = z.strictObject({
  total: z.int(),
  items: z.array(catalogRow.extend({ score: z.number() })),
  nextCursor: cursor,
});

export const appointment = z.strictObject({
  appointment: z
    .object({
      appointmentId: z.string(),
      scheduleId: z.string(),
      /** Revealed to the authorised reader only; null once the patient is forgotten (or while pending). */
      patientId: z.string().nullable(),
      status: z.string(),
    })
    .catchall(z.string()),
});
