/**
 * The analytics index on the real engines: a catalog rename reaches the documents already
 * written (Debezium change records handed to the catalog projector's analytics handler, as Kafka
 * delivers them), without disturbing the external versions later events are written at; strict
 * mappings; retention deletes whole months.
 *
 * The catalog is a private session's temporary tables (shadowing the real ones), so the shared
 * catalog and its CDC connector are never touched.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { latestSchemaVersions } from '../../domain/event-versions.ts';
import type { PatientVault } from '../../platform/patient-vault.ts';
import { analyticsIndexDefinition, type AnalyticsDoc } from '../../projections/analytics/analytics-model.ts';
import { propagateCatalogChanges } from '../../projections/analytics/catalog-renames.ts';
import { applyRetention } from '../../projections/analytics/retention.ts';
import { decodeChange, type ChangeEvent } from '../../projections/catalog/change-event.ts';
import { analyticsHandler } from '../../projections/catalog/projectors.ts';
import type { EventEnvelope } from '../../projections/relay/event-message.ts';
import type { ProjectorMessage } from '../../projections/runtime/messages.ts';
import {
  describeEachEngine,
  NOW,
  openCatalogSession,
  testAnalyticsWriter,
  testLogger as logger,
} from '../support/analytics-setup.ts';
import { uniqueName } from '../support/wait.ts';

const patientId = `analytics-index-${randomUUID().slice(0, 8)}`;

let session: pg.Client;
let vault: PatientVault;
let patient: { patientRef: string; patient: string };

beforeAll(async () => {
  ({ session, vault } = await openCatalogSession());
  patient = await vault.resolve(patientId);
});

afterAll(async () => {
  await session?.query('DELETE FROM patient_keys WHERE patient_id = $1', [patientId]);
  await session?.end();
});

/** A Debezium update record of a catalog row, as the catalog topics carry it. */
function updateRecord(table: string, row: Record<string, unknown>, lsn: number): ProjectorMessage {
  return {
    topic: `test.public.${table}`,
    partition: 0,
    offset: String(lsn),
    key: Buffer.from(JSON.stringify({ id: row.id })),
    value: Buffer.from(
      JSON.stringify({
        before: null,
        after: row,
        op: 'u',
        source: { lsn, table, snapshot: 'false', ts_ms: lsn },
        ts_ms: lsn,
      }),
    ),
    headers: {},
    timestamp: String(lsn),
  };
}

const changeOf = (m: ProjectorMessage) => decodeChange(m.key, m.value) as ChangeEvent;

describeEachEngine(
  { file: 'analytics-index', title: 'analytics index', purpose: 'to test against' },
  (engine, kind) => {
    const alias = uniqueName('analytics').toLowerCase();
    // Ids of this engine's half (the halves share the session's temporary tables).
    const base = kind === 'opensearch' ? 8100 : 8200;
    const [inst, dep, doc] = [base + 1, base + 2, base + 3];
    const scheduleId = randomUUID();
    const [kept, cancelled] = [randomUUID(), randomUUID()];
    let revision = 0;
    /** The schedule's stream as the event store holds it (what a writer reads on a cold start). */
    const stream: EventEnvelope[] = [];
    const history = {
      readStream: (_: string, o: { fromRevision: number; maxCount: number }) =>
        Promise.resolve(
          stream.slice(o.fromRevision, o.fromRevision + o.maxCount).map((e) => ({
            ...e,
            id: e.eventId,
            revision: BigInt(e.revision),
            globalPosition: 0n,
            createdAt: new Date(),
          })),
        ),
    };
    const envelope = (type: string, data: Record<string, unknown>): { envelope: EventEnvelope } => {
      const recorded: EventEnvelope = {
        eventId: randomUUID(),
        streamId: `schedule-${scheduleId}`,
        revision: revision++,
        type,
        data: { scheduleId, ...data },
        metadata: { schemaVersion: (latestSchemaVersions as Record<string, number>)[type] },
        createdAt: '2026-03-01T00:00:00.000Z',
        checkpoint: '0',
      };
      stream.push(recorded);
      return { envelope: recorded };
    };
    // A new writer per write: nothing cached, its facts come from the stream, as after a restart.
    const writer = () => testAnalyticsWriter({ engine, alias, history, session, vault });
    const docOf = async (id: string) => (await engine.get<AnalyticsDoc>(`${alias}-2026-03`, id))!.source;

    beforeAll(async () => {
      await session.query(
        `INSERT INTO institutions VALUES ($1, '旧名医院', '天津', '和平区', '三级乙等', '综合医院')`,
        [inst],
      );
      await session.query(`INSERT INTO departments VALUES ($1, '呼吸科', '内科')`, [dep]);
      await session.query(`INSERT INTO doctors VALUES ($1, '陈医生', '主治医师')`, [doc]);
      const booked = (appointmentId: string, bookedAt: string) =>
        envelope('AppointmentBooked', { appointmentId, ...patient, bookedAt });
      const result = await writer().write([
        envelope('ScheduleOpened', {
          doctorId: String(doc),
          institutionId: String(inst),
          departmentId: String(dep),
          date: '2026-03-10',
          period: 'afternoon',
          sessionStartsAt: '2026-03-10T05:00:00.000Z',
          capacity: 5,
          fee: 1000,
          openedBy: { id: 'h', role: 'hospital' },
          openedAt: '2026-03-01T00:00:00.000Z',
        }),
        booked(kept, '2026-03-08T05:00:00.000Z'),
        booked(cancelled, '2026-03-09T05:00:00.000Z'),
      ]);
      expect(result).toMatchObject({ applied: 2, poison: [] });
    });

    afterAll(async () => {
      for (const index of await engine.aliasTargets(alias)) await engine.deleteIndex(index);
      await engine.deleteIndex(`${alias}-2023-01`);
      await session.query('DELETE FROM institutions WHERE id = $1', [inst]);
      await session.query('DELETE FROM departments WHERE id = $1', [dep]);
      await session.query('DELETE FROM doctors WHERE id = $1', [doc]);
      await engine.close();
    });

    it('writes the catalog facts, the lead time and the session clock', async () => {
      expect(await docOf(kept)).toMatchObject({
        institutionName: '旧名医院',
        city: '天津',
        district: '和平区',
        institutionLevel: '三级乙等',
        departmentCategory: '内科',
        doctorTitle: '主治医师',
        leadTimeHours: 48,
        sessionHour: 13,
        sessionWeekday: 2,
        status: 'active',
        transitions: [{ status: 'booked', at: '2026-03-08T05:00:00.000Z' }],
        patientPseudonym: expect.stringMatching(/.{20,}/) as unknown,
      });
    });

    it('carries a catalog rename into the existing documents, keeping their versions', async () => {
      const versions = await Promise.all(
        [kept, cancelled].map(async (id) => (await engine.get(`${alias}-2026-03`, id))!.version),
      );
      await session.query(`UPDATE institutions SET name = '新名医院', level = '三级甲等' WHERE id = $1`, [
        inst,
      ]);
      await session.query(`UPDATE departments SET name = '呼吸与危重症医学科' WHERE id = $1`, [dep]);
      await session.query(`UPDATE doctors SET title = '副主任医师' WHERE id = $1`, [doc]);
      const records = [
        updateRecord(
          'institutions',
          {
            id: inst,
            name: '新名医院',
            city: '天津',
            district: '和平区',
            level: '三级甲等',
            type: '综合医院',
          },
          1000,
        ),
        updateRecord(
          'departments',
          { id: dep, institution_id: inst, name: '呼吸与危重症医学科', category: '内科' },
          1001,
        ),
        updateRecord(
          'doctors',
          { id: doc, institution_id: inst, department_id: dep, name: '陈医生', title: '副主任医师' },
          1002,
        ),
      ];
      const handled = await analyticsHandler(engine, alias)(records, {
        heartbeat: () => Promise.resolve(),
        signal: new AbortController().signal,
        logger,
        projector: 'catalog-analytics',
      });
      expect(handled?.poison).toEqual([]);

      for (const [i, id] of [kept, cancelled].entries()) {
        const hit = await engine.get<AnalyticsDoc>(`${alias}-2026-03`, id);
        expect(hit?.source).toMatchObject({
          institutionName: '新名医院',
          institutionLevel: '三级甲等',
          departmentName: '呼吸与危重症医学科',
          doctorTitle: '副主任医师',
          city: '天津',
        });
        expect(hit?.version).toBe(versions[i]);
      }
      const byNewName = await engine.count(alias, { term: { institutionName: '新名医院' } });
      expect(byNewName).toBe(2);
      // A redelivered change finds nothing left to change.
      expect(await propagateCatalogChanges(engine, alias, records.map(changeOf))).toBe(0);
    });

    it('applies the next event of a renamed document (its version was not bumped) with the new names', async () => {
      const result = await writer().write([
        envelope('AppointmentCancelled', {
          appointmentId: cancelled,
          patientRef: patient.patientRef,
          reason: null,
          cancelledBy: { id: patient.patientRef, role: 'patient' },
          cancelledAt: '2026-03-09T06:00:00.000Z',
        }),
      ]);
      expect(result).toMatchObject({ applied: 1, stale: 0, poison: [] });
      expect(await docOf(cancelled)).toMatchObject({
        status: 'cancelled',
        cancelledBy: 'patient',
        institutionName: '新名医院',
        transitions: [
          { status: 'booked', at: '2026-03-09T05:00:00.000Z' },
          { status: 'cancelled', at: '2026-03-09T06:00:00.000Z' },
        ],
      });
    });

    it('refuses a field the mapping does not know (strict)', async () => {
      const result = await engine.bulk([
        {
          action: 'index',
          index: `${alias}-2026-03`,
          id: 'x',
          document: { appointmentId: 'x', surprise: 1 },
        },
      ]);
      expect(result.failures[0]?.reason).toMatch(/strict/);
    });

    it('deletes the months past retention and keeps the others', async () => {
      await engine.createIndex(`${alias}-2023-01`, analyticsIndexDefinition(alias));
      const deleted = await applyRetention({ engine, alias, months: 24, now: NOW });
      expect(deleted).toEqual([`${alias}-2023-01`]);
      expect(await engine.aliasTargets(alias)).toEqual([`${alias}-2026-03`]);
    });

    it('finds no analytics index to patch under an alias that does not exist', async () => {
      const record = updateRecord(
        'institutions',
        { id: inst, name: '又一个名字', city: '天津', level: '一级', type: '综合医院' },
        2000,
      );
      expect(await propagateCatalogChanges(engine, `${alias}-none`, [changeOf(record)])).toBe(0);
    });
  },
);
