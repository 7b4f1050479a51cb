/**
 * The audit trail on the real database: append-only, queryable by admins only, keyset pages
 * newest first, filters by actor, action and subject; admin actions (flow rules) and operator
 * command lines (rebuild, dead-letter replay) are in it.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRebuild } from '../../projections/rebuild.ts';
import { auditDeadLetterReplay } from '../../projections/runtime/dlq-replay.ts';
import { type AuditEntry, PgAuditTrail } from '../../platform/audit.ts';
import { defaultFlowRules } from '../../platform/flow/default-rules.ts';
import { FlowRuleStore } from '../../platform/flow/rule-store.ts';
import {
  anOpenScheduleRequest,
  book,
  type Harness,
  startCommandApi,
} from '../support/command-api-harness.ts';
import { testConfig } from '../support/test-config.ts';
import { uniqueName } from '../support/wait.ts';

const anEntry = (overrides: Partial<AuditEntry> = {}): AuditEntry => ({
  actor: { role: 'admin', id: 'admin-audit' },
  action: 'patient.forget',
  outcome: 'allowed',
  subject: { type: 'patient', id: randomUUID() },
  ...overrides,
});

interface Page {
  items: { subject: { id: string }; action: string }[];
  nextCursor: string | null;
}
const subjectIds = (page: Page) => page.items.map((e) => e.subject.id);

describe('audit trail', () => {
  let h: Harness;
  let trail: PgAuditTrail;
  let admin: string;
  let redis: Redis;
  // A subject of this test's own, so other files' entries never land on its pages.
  const actorId = `auditor-${randomUUID()}`;
  // This file's own live flow rules (the file default until the flow-rule test replaces them).
  const flowKey = uniqueName('flow:rules');

  beforeAll(async () => {
    redis = new Redis(testConfig().REDIS_URL);
    h = await startCommandApi({ flowRuleStore: new FlowRuleStore(redis, flowKey, defaultFlowRules) });
    trail = new PgAuditTrail(h.pool);
    admin = await h.tokenFor({ sub: 'admin-audit', role: 'admin' });
  });

  afterAll(async () => {
    await h?.stop();
    await redis?.del(flowKey);
    redis?.disconnect();
  });

  async function openScheduleAs(token: string): Promise<string> {
    const res = await h.http.post('/v1/schedules', {
      token,
      idempotencyKey: randomUUID(),
      body: anOpenScheduleRequest(h.catalog),
    });
    expect(res.status).toBe(201);
    return (res.body as { scheduleId: string }).scheduleId;
  }

  it('given entries, when an admin pages by actor, then they come newest first with a working cursor', async () => {
    const subjects = Array.from({ length: 5 }, () => randomUUID());
    for (const id of subjects) {
      await trail.record([
        anEntry({
          actor: { role: 'hospital', id: actorId, institutionId: '7' },
          subject: { type: 'appointment', id },
          action: 'appointment.read',
        }),
      ]);
    }
    const first = await h.http.get(`/v1/audit?actorId=${actorId}&limit=3`, { token: admin });
    expect(first.status).toBe(200);
    expect(subjectIds(first.body as Page)).toEqual(subjects.slice(2).reverse());
    expect(first.body.items[0]).toMatchObject({
      actor: { role: 'hospital', id: actorId, institutionId: '7' },
      action: 'appointment.read',
      outcome: 'allowed',
      subject: { type: 'appointment' },
    });
    const second = await h.http.get(`/v1/audit?actorId=${actorId}&limit=3&cursor=${first.body.nextCursor}`, {
      token: admin,
    });
    expect(subjectIds(second.body as Page)).toEqual(subjects.slice(0, 2).reverse());
    expect(second.body.nextCursor).toBeNull();
  });

  it('filters by subject and action', async () => {
    const subject = randomUUID();
    await trail.record([
      anEntry({ subject: { type: 'patient', id: subject } }),
      anEntry({ subject: { type: 'patient', id: subject }, action: 'patient.read', outcome: 'denied' }),
    ]);
    const res = await h.http.get(`/v1/audit?subjectType=patient&subjectId=${subject}&action=patient.read`, {
      token: admin,
    });
    expect(res.status).toBe(200);
    expect(res.body.items).toHaveLength(1);
    expect(res.body.items[0]).toMatchObject({ action: 'patient.read', outcome: 'denied' });
  });

  it('records what a hospital and an admin change, in the command transaction, and no patient id', async () => {
    // Given a hospital of its own (a unique sub), a schedule it opened and a patient's booking
    const hospital = { ...h.hospital, sub: `hospital-${randomUUID()}` };
    const hospitalToken = await h.tokenFor(hospital);
    const scheduleId = await openScheduleAs(hospitalToken);
    const patientId = `patient-${randomUUID()}`;
    const booked = await book(h, scheduleId, patientId);
    expect(booked.status).toBe(201);
    const appointmentId = (booked.body as { appointmentId: string }).appointmentId;
    // When the hospital cancels it and then closes the schedule
    const cancel = await h.http.post(`/v1/appointments/${appointmentId}/cancel`, {
      token: hospitalToken,
      idempotencyKey: randomUUID(),
      body: { reason: 'doctor ill' },
    });
    expect(cancel.status).toBe(200);
    const close = await h.http.post(`/v1/schedules/${scheduleId}/close`, {
      token: hospitalToken,
      idempotencyKey: randomUUID(),
      body: { reason: 'closed' },
    });
    expect(close.status).toBe(200);
    // Then the trail holds the hospital's three changes, newest first; the patient's own booking is not audited
    const res = await h.http.get(`/v1/audit?actorId=${hospital.sub}`, { token: admin });
    expect((res.body as Page).items.map((e) => e.action)).toEqual([
      'schedule.close',
      'appointment.cancel',
      'schedule.open',
    ]);
    expect(res.body.items[1]).toMatchObject({
      actor: { role: 'hospital', id: hospital.sub, institutionId: h.catalog.institutionId },
      subject: { type: 'appointment', id: appointmentId },
    });
    const { rows } = await h.pool.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM audit_log WHERE audit_log::text LIKE '%' || $1 || '%'`,
      [patientId],
    );
    expect(rows[0]?.n).toBe('0');
  });

  it("records an admin's flow-rule change, and an operator's rebuild and dead-letter replay with a trace id", async () => {
    // Given an admin of its own, when it replaces the flow rules (with the same rules: nothing changes)
    const sub = `admin-${randomUUID()}`;
    const token = await h.tokenFor({ sub, role: 'admin' });
    const current = await h.http.get('/v1/admin/flow-rules', { token });
    const { version, rules } = current.body as { version: number; rules: { resources: object } };
    const put = await h.http.request('PUT', '/v1/admin/flow-rules', { token, body: { version, rules } });
    expect(put.status, put.text).toBe(200);
    // Then the trail shows who changed which rules from and to which version
    const byAdmin = await h.http.get(`/v1/audit?actorId=${sub}`, { token: admin });
    expect(byAdmin.body.items).toEqual([
      expect.objectContaining({
        actor: { role: 'admin', id: sub },
        action: 'flow_rules.replace',
        outcome: 'allowed',
        subject: { type: 'flow_rules', id: flowKey },
        detail: { fromVersion: version, toVersion: version + 1, resources: Object.keys(rules.resources) },
      }),
    ]);
    // And what the rebuild and replay command lines record before they run: the OS user as operator, a trace id
    const prefix = uniqueName('rm');
    const dlqTopic = uniqueName('dlq');
    const rebuildTrace = await auditRebuild(
      h.pool,
      'redis',
      { READ_MODEL_PREFIX: prefix, APPOINTMENTS_ALIAS: 'unused' },
      true,
    );
    const replayTrace = await auditDeadLetterReplay(h.pool, { dlqTopic, projector: 'search' });
    const rebuilt = await h.http.get(`/v1/audit?subjectType=read_model&subjectId=${prefix}`, {
      token: admin,
    });
    expect(rebuilt.body.items).toEqual([
      expect.objectContaining({
        actor: { role: 'operator', id: expect.stringMatching(/^.+@.+$/) },
        action: 'projections.rebuild',
        detail: { readModel: 'redis', keepOld: true },
        traceId: rebuildTrace,
      }),
    ]);
    expect(rebuildTrace).toMatch(/^[0-9a-f]{32}$/);
    const replayed = await h.http.get(`/v1/audit?subjectType=dead_letters&subjectId=${dlqTopic}`, {
      token: admin,
    });
    expect(replayed.body.items).toEqual([
      expect.objectContaining({
        action: 'projections.dlq_replay',
        detail: { projector: 'search' },
        traceId: replayTrace,
      }),
    ]);
  });

  it('is append-only: UPDATE, DELETE and TRUNCATE are refused by the database', async () => {
    await trail.record([anEntry({ actor: { role: 'admin', id: actorId } })]);
    await expect(
      h.pool.query('UPDATE audit_log SET actor_id = $1 WHERE actor_id = $2', ['x', actorId]),
    ).rejects.toThrow(/append-only/);
    await expect(h.pool.query('DELETE FROM audit_log WHERE actor_id = $1', [actorId])).rejects.toThrow(
      /append-only/,
    );
    await expect(h.pool.query('TRUNCATE audit_log')).rejects.toThrow(/append-only/);
  });

  it('answers only admins, and names a bad parameter', async () => {
    const hospital = await h.tokenFor({ sub: 'h-audit', role: 'hospital', institutionId: '1' });
    const patient = await h.tokenFor({ sub: 'p-audit', role: 'patient' });
    expect((await h.http.get('/v1/audit', { token: hospital })).status).toBe(403);
    expect((await h.http.get('/v1/audit', { token: patient })).status).toBe(403);
    expect((await h.http.get('/v1/audit')).status).toBe(401);
    const bad = await h.http.get('/v1/audit?cursor=abc', { token: admin });
    expect(bad.status).toBe(400);
    expect(bad.body['invalid-params']).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'cursor' })]),
    );
    const post = await h.http.post('/v1/audit', { token: admin, idempotencyKey: randomUUID(), body: {} });
    expect(post.status).toBe(405);
  });
});
