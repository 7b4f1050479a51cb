import { describe, expect, it } from 'vitest';
import { catalogProblem, type CatalogDoctor } from '../../command-api/catalog-directory.ts';
import { ownSchedulesOnly, requireOwnInstitution } from '../../command-api/tenancy.ts';
import { fold } from '../../domain/schedule.ts';
import { AppError } from '../../platform/http/errors.ts';
import { aScheduleOpened } from '../support/schedule-mother.ts';

const ref = { doctorId: '7', institutionId: '1', departmentId: '10' };
const doctor = (overrides: Partial<CatalogDoctor> = {}): CatalogDoctor => ({
  institutionId: '1',
  departmentId: '10',
  status: 'active',
  institutionStatus: 'active',
  ...overrides,
});
const fields = (d: CatalogDoctor | undefined) => catalogProblem(ref, d).map((p) => p.name);

describe('catalogProblem', () => {
  it('given an active doctor of the institution and department, when checked, then nothing is wrong', () => {
    expect(catalogProblem(ref, doctor())).toEqual([]);
  });

  it('given no doctor, when checked, then doctorId is named', () => {
    expect(fields(undefined)).toEqual(['doctorId']);
  });

  it('given a doctor elsewhere, when checked, then the institution or department is named', () => {
    expect(fields(doctor({ institutionId: '2', departmentId: '20' }))).toEqual([
      'institutionId',
      'departmentId',
    ]);
    expect(fields(doctor({ departmentId: '11' }))).toEqual(['departmentId']);
  });

  it('given an inactive doctor or a closed institution, when checked, then that field is named', () => {
    expect(fields(doctor({ status: 'inactive' }))).toEqual(['doctorId']);
    expect(catalogProblem(ref, doctor({ institutionStatus: 'closed' }))).toEqual([
      { name: 'institutionId', reason: 'institution 1 is closed' },
    ]);
  });
});

describe('tenancy', () => {
  const hospital = { sub: 'h', role: 'hospital' as const, institutionId: '1' };
  const schedule = (institutionId: string) => fold([aScheduleOpened({ institutionId })]);

  it('given a hospital, when it opens for another institution, then it is forbidden', () => {
    expect(() => requireOwnInstitution(hospital, '2')).toThrow(AppError);
    expect(() => requireOwnInstitution(hospital, '1')).not.toThrow();
    expect(() => requireOwnInstitution(hospital, '01')).not.toThrow();
    expect(() => requireOwnInstitution({ sub: 'a', role: 'admin' }, '2')).not.toThrow();
  });

  it("given a hospital, when the loaded schedule is another institution's, then a 403 problem refuses it", () => {
    const authorize = ownSchedulesOnly(hospital)!;
    expect(authorize(schedule('2'))).toMatchObject({ kind: 'problem', code: 'forbidden' });
    expect(authorize(schedule('1'))).toBeUndefined();
    // Unknown: the decider answers 404, as it does for everyone.
    expect(authorize(fold([]))).toBeUndefined();
  });

  it('given an admin or a patient, when a schedule is loaded, then no tenancy applies', () => {
    expect(ownSchedulesOnly({ sub: 'a', role: 'admin' })).toBeUndefined();
    expect(ownSchedulesOnly({ sub: 'p', role: 'patient' })).toBeUndefined();
  });
});
