/**
 * The catalog as the command side checks it: a schedule opens only for an active doctor of an
 * active institution, in the department it names. The catalog tables (infra/migrations/200, 201)
 * live in the same PostgreSQL; the lookup is one primary-key query. The comparison is pure
 * (`catalogProblem`) so its rules are unit-tested without a database.
 */
import type { InvalidParam } from '../platform/http/errors.ts';
import type { Pool } from '../platform/pg.ts';

/** The ids a command names (catalog ids: decimal digits). */
export interface CatalogReference {
  doctorId: string;
  institutionId: string;
  departmentId: string;
}

/** The doctor's catalog row, with its institution's status. */
export interface CatalogDoctor {
  institutionId: string;
  departmentId: string;
  status: string;
  institutionStatus: string;
}

export interface CatalogDirectory {
  /** The doctor as the catalog holds it, or undefined when no doctor has this id. */
  doctor(doctorId: string): Promise<CatalogDoctor | undefined>;
}

/** What is wrong with a reference, field by field (empty: nothing). */
export function catalogProblem(ref: CatalogReference, doctor: CatalogDoctor | undefined): InvalidParam[] {
  if (!doctor) return [{ name: 'doctorId', reason: `no doctor ${ref.doctorId} in the catalog` }];
  const wrong: InvalidParam[] = [];
  if (doctor.institutionId !== ref.institutionId) {
    wrong.push({
      name: 'institutionId',
      reason: `doctor ${ref.doctorId} does not belong to institution ${ref.institutionId}`,
    });
  } else if (doctor.institutionStatus !== 'active') {
    wrong.push({
      name: 'institutionId',
      reason: `institution ${ref.institutionId} is ${doctor.institutionStatus}`,
    });
  }
  if (doctor.departmentId !== ref.departmentId) {
    wrong.push({
      name: 'departmentId',
      reason: `doctor ${ref.doctorId} does not belong to department ${ref.departmentId}`,
    });
  }
  if (doctor.status !== 'active')
    wrong.push({ name: 'doctorId', reason: `doctor ${ref.doctorId} is ${doctor.status}` });
  return wrong;
}

export class PgCatalogDirectory implements CatalogDirectory {
  readonly #pool: Pool;

  constructor(pool: Pool) {
    this.#pool = pool;
  }

  async doctor(doctorId: string): Promise<CatalogDoctor | undefined> {
    const { rows } = await this.#pool.query<{
      institution_id: string;
      department_id: string;
      status: string;
      institution_status: string;
    }>({
      name: 'catalog_doctor',
      text: `SELECT d.institution_id, d.department_id, d.status, i.status AS institution_status
               FROM doctors d JOIN institutions i ON i.id = d.institution_id
              WHERE d.id = $1`,
      values: [doctorId],
    });
    const row = rows[0];
    return (
      row && {
        // bigint columns arrive as strings: the canonical decimal form the request ids use
        institutionId: String(row.institution_id),
        departmentId: String(row.department_id),
        status: row.status,
        institutionStatus: row.institution_status,
      }
    );
  }
}
