/**
 * Runs EVERY `json` query of docs/analytics.md (parsed from the page, so the cookbook cannot
 * drift from what is tested) on known appointments indexed through the analytics writer into
 * monthly indices behind a random alias, on each configured engine, and asserts the numbers.
 *
 * The catalog the writer reads is a private session's temporary tables (shadowing the real
 * catalog tables): the shared catalog and its CDC connector are never touched.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { latestSchemaVersions } from '../../domain/event-versions.ts';
import { latestSlotEventVersions } from '../../domain/slot-events.ts';
import type { PatientVault } from '../../platform/patient-vault.ts';
import type { EventEnvelope } from '../../projections/relay/event-message.ts';
import type { WriteItem } from '../../projections/redis/redis-writer.ts';
import { describeEachEngine, openCatalogSession, testAnalyticsWriter } from '../support/analytics-setup.ts';
import { uniqueName } from '../support/wait.ts';

/** The cookbook's questions: `## N. title` followed by its first ```json block. */
function cookbook(): Map<number, { title: string; body: Record<string, unknown> }> {
  const page = readFileSync(new URL('../../docs/analytics.md', import.meta.url), 'utf8');
  const out = new Map<number, { title: string; body: Record<string, unknown> }>();
  for (const section of page.split(/^## /m).slice(1)) {
    const heading = /^(\d+)\. (.+)$/m.exec(section);
    const json = /```json\n([\s\S]*?)```/.exec(section);
    if (!heading || !json) continue;
    out.set(Number(heading[1]), {
      title: heading[2]!,
      body: JSON.parse(json[1]!) as Record<string, unknown>,
    });
  }
  return out;
}

// ---- known data -------------------------------------------------------------------------------

const institutions = [
  { id: 7101, name: '测试协和医院', city: '北京', district: '东城区', level: '三级甲等', type: '综合医院' },
  { id: 7102, name: '测试儿童医院', city: '北京', district: '海淀区', level: '二级甲等', type: '专科医院' },
  { id: 7103, name: '测试中医医院', city: '上海', district: '徐汇区', level: '三级甲等', type: '中医医院' },
];
const departments = [
  { id: 7201, name: '心内科', category: '内科' },
  { id: 7202, name: '普外科', category: '外科' },
  { id: 7203, name: '小儿科', category: '儿科' },
  { id: 7204, name: '脾胃科', category: '内科' },
];
const doctors = [
  { id: 7301, name: '张医生', title: '主任医师' },
  { id: 7302, name: '李医生', title: '主治医师' },
  { id: 7303, name: '王医生', title: '副主任医师' },
  { id: 7304, name: '赵医生', title: '主任医师' },
];

interface Session {
  key: string;
  inst: number;
  dep: number;
  doc: number;
  date: string;
  period: 'morning' | 'afternoon' | 'evening';
  startsAt: string;
  fee: number;
}

// 2026-03-02 is a Monday, 03-03 a Tuesday, 04-01 a Wednesday; times are UTC (+8 in the hospital).
const sessions: Session[] = [
  {
    key: 'S1',
    inst: 7101,
    dep: 7201,
    doc: 7301,
    date: '2026-03-02',
    period: 'morning',
    startsAt: '2026-03-02T00:00:00.000Z',
    fee: 3000,
  },
  {
    key: 'S2',
    inst: 7101,
    dep: 7202,
    doc: 7302,
    date: '2026-03-03',
    period: 'afternoon',
    startsAt: '2026-03-03T05:00:00.000Z',
    fee: 5000,
  },
  {
    key: 'S3',
    inst: 7102,
    dep: 7203,
    doc: 7303,
    date: '2026-03-02',
    period: 'evening',
    startsAt: '2026-03-02T10:00:00.000Z',
    fee: 2000,
  },
  {
    key: 'S4',
    inst: 7103,
    dep: 7204,
    doc: 7304,
    date: '2026-04-01',
    period: 'morning',
    startsAt: '2026-04-01T00:00:00.000Z',
    fee: 5000,
  },
];

type Step =
  | { cancel: string; by: 'patient' | 'hospital' }
  | { slot: string; heldUntil: string | null; takenAt: string }
  | { paid: string }
  | { expired: string }
  | { checkedIn: string }
  | { noShow: string };

interface Appt {
  key: string;
  session: string;
  patient: string;
  bookedAt: string;
  steps: Step[];
}

const appointments: Appt[] = [
  { key: 'a1', session: 'S1', patient: 'p1', bookedAt: '2026-02-28T00:00:00.000Z', steps: [] },
  { key: 'a2', session: 'S1', patient: 'p2', bookedAt: '2026-02-27T00:00:00.000Z', steps: [] },
  {
    key: 'a3',
    session: 'S1',
    patient: 'p3',
    bookedAt: '2026-03-01T00:00:00.000Z',
    steps: [{ cancel: '2026-03-01T06:00:00.000Z', by: 'patient' }],
  },
  { key: 'a4', session: 'S2', patient: 'p1', bookedAt: '2026-03-01T05:00:00.000Z', steps: [] },
  {
    key: 'a5',
    session: 'S2',
    patient: 'p4',
    bookedAt: '2026-02-28T05:00:00.000Z',
    steps: [{ cancel: '2026-03-01T00:00:00.000Z', by: 'hospital' }],
  },
  { key: 'a6', session: 'S3', patient: 'p2', bookedAt: '2026-03-01T10:00:00.000Z', steps: [] },
  {
    key: 'a7',
    session: 'S3',
    patient: 'p4',
    bookedAt: '2026-03-01T10:00:00.000Z',
    steps: [{ cancel: '2026-03-01T12:00:00.000Z', by: 'patient' }],
  },
  {
    key: 'a8',
    session: 'S4',
    patient: 'p1',
    bookedAt: '2026-03-30T00:00:00.000Z',
    steps: [
      {
        slot: '2026-04-01T00:00:00.000Z',
        heldUntil: '2026-03-30T00:15:00.000Z',
        takenAt: '2026-03-30T00:00:00.000Z',
      },
      { paid: '2026-03-30T00:05:00.000Z' },
      { checkedIn: '2026-04-01T00:10:00.000Z' },
    ],
  },
  {
    key: 'a9',
    session: 'S4',
    patient: 'p3',
    bookedAt: '2026-03-30T00:00:00.000Z',
    steps: [
      {
        slot: '2026-04-01T01:30:00.000Z',
        heldUntil: '2026-03-30T00:15:00.000Z',
        takenAt: '2026-03-30T00:00:00.000Z',
      },
      { paid: '2026-03-30T00:06:00.000Z' },
      { noShow: '2026-04-01T03:00:00.000Z' },
    ],
  },
  {
    key: 'a10',
    session: 'S4',
    patient: 'p4',
    bookedAt: '2026-03-29T00:00:00.000Z',
    steps: [
      {
        slot: '2026-04-01T01:00:00.000Z',
        heldUntil: '2026-03-29T00:15:00.000Z',
        takenAt: '2026-03-29T00:00:00.000Z',
      },
      { expired: '2026-03-29T00:15:00.000Z' },
    ],
  },
];

type Patients = Map<string, { patientRef: string; patient: string }>;

/** The schedule streams' events, in stream order, as the projector receives them. */
function events(ids: Map<string, string>, patients: Patients): WriteItem<never>[] {
  const items: WriteItem<never>[] = [];
  for (const s of sessions) {
    const scheduleId = ids.get(s.key)!;
    let revision = 0;
    const push = (type: string, data: Record<string, unknown>) => {
      const version =
        (latestSchemaVersions as Record<string, number>)[type] ??
        (latestSlotEventVersions as Record<string, number>)[type];
      const envelope: EventEnvelope = {
        eventId: randomUUID(),
        streamId: `schedule-${scheduleId}`,
        revision: revision++,
        type,
        data: { scheduleId, ...data },
        metadata: { schemaVersion: version },
        createdAt: s.startsAt,
        checkpoint: '0',
      };
      items.push({ envelope });
    };
    const actor = { id: 'hospital-1', role: 'hospital' };
    push('ScheduleOpened', {
      doctorId: String(s.doc),
      institutionId: String(s.inst),
      departmentId: String(s.dep),
      date: s.date,
      period: s.period,
      sessionStartsAt: s.startsAt,
      capacity: 10,
      fee: s.fee,
      openedBy: actor,
      openedAt: '2026-02-01T00:00:00.000Z',
    });
    for (const a of appointments.filter((x) => x.session === s.key)) {
      const appointmentId = ids.get(a.key)!;
      const { patientRef, patient } = patients.get(a.patient)!;
      push('AppointmentBooked', { appointmentId, patientRef, patient, bookedAt: a.bookedAt });
      for (const step of a.steps) {
        const common = { appointmentId, patientRef };
        if ('cancel' in step) {
          const by = step.by === 'patient' ? { id: patientRef, role: 'patient' } : actor;
          push('AppointmentCancelled', {
            ...common,
            reason: null,
            cancelledBy: by,
            cancelledAt: step.cancel,
          });
        } else if ('slot' in step) {
          push('SlotTaken', {
            ...common,
            slot: 1 + a.key.length,
            slotStartsAt: step.slot,
            channel: 'online',
            source: 'booking',
            amount: s.fee,
            holdExpiresAt: step.heldUntil,
            takenAt: step.takenAt,
          });
        } else if ('paid' in step) {
          push('PaymentConfirmed', {
            ...common,
            slot: 1,
            paymentRef: `pay-${a.key}`,
            amount: s.fee,
            confirmedAt: step.paid,
          });
        } else if ('expired' in step) {
          push('HoldExpired', { ...common, slot: 1, deadline: step.expired, expiredAt: step.expired });
        } else if ('checkedIn' in step) {
          push('PatientCheckedIn', { ...common, slot: 1, checkedInBy: actor, checkedInAt: step.checkedIn });
        } else {
          push('NoShowMarked', { ...common, slot: 1, markedBy: actor, markedAt: step.noShow });
        }
      }
    }
  }
  return items;
}

// ---- reading aggregations ---------------------------------------------------------------------

interface Bucket {
  key: string | number;
  key_as_string?: string;
  doc_count: number;
  [sub: string]: unknown;
}
const buckets = (agg: unknown): Bucket[] => (agg as { buckets: Bucket[] }).buckets;
const sub = (b: Bucket, name: string) => b[name] as { value: number | null; doc_count?: number };

/** Each question's answer in a plain shape, from its aggregations. */
const readers: Record<number, (aggs: Record<string, unknown>) => unknown> = {
  1: (a) =>
    Object.fromEntries(
      buckets(a.city).flatMap((c) =>
        buckets(c.level).map((l) => [
          `${c.key}/${l.key}`,
          Object.fromEntries(buckets(l.day).map((d) => [d.key_as_string, d.doc_count])),
        ]),
      ),
    ),
  2: (a) =>
    Object.fromEntries(
      buckets(a.level).map((l) => {
        const values = (l.lead as { values: Record<string, number> | { key: number; value: number }[] })
          .values;
        const byPercent = Array.isArray(values)
          ? Object.fromEntries(values.map((v) => [String(v.key), v.value]))
          : values;
        return [l.key, { p50: byPercent['50.0'], p90: byPercent['90.0'] }];
      }),
    ),
  3: (a) =>
    Object.fromEntries(
      buckets(a.category).map((c) => [c.key, { all: c.doc_count, rate: sub(c, 'rate').value }]),
    ),
  4: (a) =>
    Object.fromEntries(
      buckets(a.weekday).map((w) => [
        w.key,
        Object.fromEntries(buckets(w.hour).map((h) => [h.key, h.doc_count])),
      ]),
    ),
  5: (a) => buckets(a.institution).map((i) => [i.key, i.doc_count, buckets(i.city)[0]?.key]),
  6: (a) => Object.fromEntries(buckets(a.hour).map((h) => [h.key, sub(h, 'rate').value])),
  7: (a) => Object.fromEntries(buckets(a.by).map((b) => [b.key, b.doc_count])),
  8: (a) => Object.fromEntries(buckets(a.type).map((t) => [t.key, sub(t, 'fees').value])),
  9: (a) =>
    Object.fromEntries(buckets(a.title).map((t) => [t.key, { n: t.doc_count, avg: sub(t, 'lead').value }])),
  10: (a) => Object.fromEntries(buckets(a.city).map((c) => [c.key, sub(c, 'patients').value])),
};

const expected: Record<number, unknown> = {
  1: {
    '北京/三级甲等': { '2026-02-27': 1, '2026-02-28': 2, '2026-03-01': 2 },
    '北京/二级甲等': { '2026-03-01': 2 },
    '上海/三级甲等': { '2026-03-29': 1, '2026-03-30': 2 },
  },
  // 三级甲等: 24, 48 ×4, 72 ×3 hours; 二级甲等: 24, 24.
  2: { 三级甲等: { p50: 48, p90: 72 }, 二级甲等: { p50: 24, p90: 24 } },
  3: { 内科: { all: 6, rate: 1 / 6 }, 外科: { all: 2, rate: 0.5 }, 儿科: { all: 2, rate: 0.5 } },
  // Monday 08:00 (S1) and 18:00 (S3), Tuesday 13:00 (S2), Wednesday slots at 08:00, 09:00, 09:30.
  4: { 1: { 8: 3, 18: 2 }, 2: { 13: 2 }, 3: { 8: 1, 9: 2 } },
  5: [
    ['测试中医医院', 3, '上海'],
    ['测试协和医院', 3, '北京'],
    ['测试儿童医院', 1, '北京'],
  ],
  6: { 8: 0, 9: 1 },
  7: { patient: 2, hospital: 1 },
  8: { 综合医院: 11000, 中医医院: 10000, 专科医院: 2000 },
  9: { 主任医师: { n: 6, avg: 52 }, 主治医师: { n: 2, avg: 60 }, 副主任医师: { n: 2, avg: 24 } },
  10: { 北京: 4, 上海: 3 },
};

// ---- the test ---------------------------------------------------------------------------------

const questions = cookbook();
let session: pg.Client;
let vault: PatientVault;
const tag = randomUUID().slice(0, 8);
const patients: Patients = new Map();
const patientIds = ['p1', 'p2', 'p3', 'p4'].map((p) => [p, `analytics-cookbook-${tag}-${p}`] as const);

beforeAll(async () => {
  ({ session, vault } = await openCatalogSession());
  for (const i of institutions)
    await session.query('INSERT INTO institutions VALUES ($1, $2, $3, $4, $5, $6)', [
      i.id,
      i.name,
      i.city,
      i.district,
      i.level,
      i.type,
    ]);
  for (const d of departments)
    await session.query('INSERT INTO departments VALUES ($1, $2, $3)', [d.id, d.name, d.category]);
  for (const d of doctors)
    await session.query('INSERT INTO doctors VALUES ($1, $2, $3)', [d.id, d.name, d.title]);
  for (const [key, id] of patientIds) patients.set(key, await vault.resolve(id));
});

afterAll(async () => {
  await session?.query('DELETE FROM patient_keys WHERE patient_id = ANY($1)', [
    patientIds.map(([, id]) => id),
  ]);
  await session?.end();
});

it('the cookbook has the ten questions, each a search body of query, size and aggs', () => {
  expect([...questions.keys()]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  for (const { body } of questions.values()) {
    expect(Object.keys(body).filter((k) => !['query', 'size', 'aggs', 'sort'].includes(k))).toEqual([]);
  }
});

describeEachEngine(
  { file: 'analytics-cookbook', title: 'analytics cookbook', purpose: 'to run the cookbook on' },
  (engine) => {
    const alias = uniqueName('analytics').toLowerCase();

    beforeAll(async () => {
      const ids = new Map([...sessions, ...appointments].map((x) => [x.key, randomUUID()]));
      const history = { readStream: () => Promise.resolve([]) };
      const writer = testAnalyticsWriter({ engine, alias, history, session, vault });
      const items = events(ids, patients);
      // Two batches, split inside streams: the second folds onto documents the first wrote.
      const first = await writer.write(items.slice(0, 17));
      const second = await writer.write(items.slice(17));
      expect([...first.poison, ...second.poison]).toEqual([]);
      expect(first.applied + second.applied).toBeGreaterThanOrEqual(appointments.length);
      await engine.refresh(alias);
    });

    afterAll(async () => {
      for (const index of await engine.aliasTargets(alias)) await engine.deleteIndex(index);
      await engine.close();
    });

    it('indexed every appointment into its session month, behind the alias', async () => {
      expect((await engine.aliasTargets(alias)).sort()).toEqual([`${alias}-2026-03`, `${alias}-2026-04`]);
      expect(await engine.count(alias)).toBe(appointments.length);
      expect(await engine.count(`${alias}-2026-04`)).toBe(3);
    });

    for (const [n, { title, body }] of questions) {
      it(`answers ${n}. ${title}`, async () => {
        const result = await engine.search(alias, {
          query: (body.query as Record<string, unknown> | undefined) ?? { match_all: {} },
          ...(body.size !== undefined ? { size: body.size as number } : {}),
          ...(body.aggs ? { aggs: body.aggs as Record<string, unknown> } : {}),
          ...(body.sort ? { sort: body.sort as unknown[] } : {}),
        });
        const answer = readers[n]!(result.aggregations ?? {});
        if (n === 3 || n === 9) {
          // Ratios and averages: compared to 9 digits.
          const want = expected[n] as Record<string, Record<string, number>>;
          const got = answer as Record<string, Record<string, number>>;
          expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
          for (const [k, v] of Object.entries(want))
            for (const [f, x] of Object.entries(v)) expect(got[k]![f]).toBeCloseTo(x, 9);
        } else {
          expect(answer).toEqual(expected[n]);
        }
      });
    }
  },
);
