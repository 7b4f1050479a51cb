/**
 * Catalog rows for tests that open schedules: the command API accepts only an active doctor of
 * an active institution and department (command-api/catalog-directory.ts). Each call inserts
 * fresh rows (identity ids) into the run's database, in a city of their own so list and search
 * tests by city never see them, and returns the ids as the API takes them (strings).
 */
import { randomUUID } from 'node:crypto';
import { addDays, hospitalDateAt } from '../../domain/session-time.ts';
import type { Queryable } from '../../platform/pg.ts';

export interface CatalogDoctorIds {
  doctorId: string;
  institutionId: string;
  departmentId: string;
}

export interface CatalogDoctorOptions {
  /** Add the doctor (and a new department) to this institution instead of a new one. */
  institutionId?: string;
  institutionStatus?: 'active' | 'suspended' | 'closed';
  doctorStatus?: 'active' | 'inactive';
}

async function insertedId(db: Queryable, sql: string, values: unknown[]): Promise<string> {
  const { rows } = await db.query<{ id: string }>(sql, values);
  const id = rows[0]?.id;
  if (id === undefined) throw new Error(`no id returned by ${sql}`);
  return String(id);
}

/** Given an institution, a department of it and a doctor of that department (all active by default). */
export async function givenCatalogDoctor(
  db: Queryable,
  opts: CatalogDoctorOptions = {},
): Promise<CatalogDoctorIds> {
  const tag = randomUUID().slice(0, 8);
  const institutionId =
    opts.institutionId ??
    (await insertedId(
      db,
      `INSERT INTO institutions (name, city, level, type, status)
       VALUES ($1, $2, '三级甲等', '综合医院', $3) RETURNING id`,
      [`测试医院 ${tag}`, `测试城 ${tag}`, opts.institutionStatus ?? 'active'],
    ));
  const departmentId = await insertedId(
    db,
    `INSERT INTO departments (institution_id, name, category) VALUES ($1, $2, '内科') RETURNING id`,
    [institutionId, `心内科 ${tag}`],
  );
  const doctorId = await insertedId(
    db,
    `INSERT INTO doctors (institution_id, department_id, name, title, status)
     VALUES ($1, $2, $3, '主治医师', $4) RETURNING id`,
    [institutionId, departmentId, `测试医生 ${tag}`, opts.doctorStatus ?? 'active'],
  );
  return { doctorId, institutionId, departmentId };
}

/** The hospital's today (Asia/Shanghai), as the command API's horizon counts it. */
export const hospitalToday = (): string => hospitalDateAt(new Date());

let sessionSlot = 0;

/**
 * A different date on every call, 1..88 days after the hospital's today: inside the booking horizon
 * (90 days), and one doctor can have 88 sessions opened before a date comes round again (one open
 * schedule per doctor, date and period).
 */
export function nextSessionDate(): string {
  sessionSlot = (sessionSlot % 88) + 1;
  return addDays(hospitalToday(), sessionSlot);
}
