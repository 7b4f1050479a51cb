/**
 * What the query API answers, as zod schemas: the OpenAPI document and the generated clients read
 * them. Catalog rows are their published columns (read-models/published-columns.ts), strictly: a
 * column that is not published must not appear in a response.
 */
import { z } from 'zod';
import { periods } from '../domain/session-time.ts';
import { appointmentStatuses } from '../read-models/bookings.ts';
import type { CatalogTable } from '../read-models/catalog.ts';
import { publishedColumns } from '../read-models/published-columns.ts';

const id = z.union([z.int(), z.string()]);
const cursor = z.string().nullable().describe('Opaque cursor of the next page; null on the last page');

/**
 * A catalog row as served: its published columns. Only `id` is always there: a column published
 * after a row was last changed appears at that row's next change (docs/adr/0004).
 */
const published = (table: CatalogTable) =>
  z.strictObject(publishedColumns[table]).partial().required({ id: true });
const institutionRow = published('institutions');
const departmentRow = published('departments');
const doctorRow = published('doctors');
const contentRow = published('homepage_content');

export const homepage = z.strictObject({
  city: z.string(),
  date: z.string(),
  banners: z.array(contentRow),
  featuredInstitutions: z.array(institutionRow.extend({ bookingsToday: z.int() })),
  hotDepartments: z.array(
    z.strictObject({
      departmentId: z.string(),
      bookings: z.number(),
      name: z.string().nullable(),
      category: z.string().nullable(),
      institutionId: id.nullable(),
    }),
  ),
  videos: z.array(z.strictObject({ tab: z.string(), items: z.array(contentRow) })),
  science: z.array(z.strictObject({ tab: z.string(), items: z.array(contentRow) })),
  stats: z.strictObject({ date: z.string(), totalBookings: z.number() }),
});

export const institutionsPage = z.strictObject({
  items: z.array(institutionRow),
  limit: z.int(),
  nextCursor: cursor,
});

export const institution = z.strictObject({ institution: institutionRow });

export const institutionDepartments = z.strictObject({
  institutionId: z.string(),
  departments: z.array(departmentRow),
});

export const institutionDoctors = z.strictObject({
  institutionId: z.string(),
  doctors: z.array(doctorRow),
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
      /** A numbered schedule's slots (docs/adr/0012); absent for a capacity-only schedule. */
      slots: z
        .array(
          z.strictObject({
            slot: z.int(),
            startsAt: z.string(),
            state: z.enum(['free', 'held', 'confirmed', 'reserved']),
            holdExpiresAt: z.string().optional().describe('While held: when the slot returns unless paid'),
            channel: z.string().optional().describe('While reserved: the only channel that may take it'),
            releasesAt: z.string().optional().describe('While reserved: when it opens to every channel'),
          }),
        )
        .optional()
        .describe("Each slot's state, never whose it is; reserved slots judged at read time"),
    }),
  ),
});

export const institutionSearch = z.strictObject({
  total: z.int(),
  items: z.array(institutionRow.extend({ score: z.number() })),
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

const scheduleAvailability = doctorSchedules.shape.schedules.element;

export const scheduleSlots = z.strictObject({ schedule: scheduleAvailability });

/** An appointment on the lists: its status and the times of its transitions, never the holder's identity. */
const listedAppointment = z
  .object({
    appointmentId: z.string(),
    scheduleId: z.string(),
    status: z.enum(appointmentStatuses),
  })
  .catchall(z.string());

export const patientAppointments = z.strictObject({
  items: z.array(listedAppointment),
  limit: z.int(),
  nextCursor: cursor,
});

export const dayList = z.strictObject({
  institutionId: z.string(),
  doctorId: z.string(),
  date: z.string(),
  schedules: z.array(scheduleAvailability.extend({ appointments: z.array(listedAppointment) })),
});
