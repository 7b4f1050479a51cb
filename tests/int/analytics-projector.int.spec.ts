/**
 * The analytics component of the projections process, as it runs: events appended to the event
 * store go through the relay and Kafka to the `analytics` projector, which writes the session
 * month's index behind the alias with the catalog's facts read from the PostgreSQL catalog tables.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { SearchEngine } from '../../platform/search/index.ts';
import { monthlyIndexName, type AnalyticsDoc } from '../../projections/analytics/analytics-model.ts';
import { startProjections, type ProjectionsHandle } from '../../projections/start.ts';
import { givenCatalogDoctor, nextSessionDate, type CatalogDoctorIds } from '../support/catalog-mother.ts';
import { projectionsHarness, type Harness } from '../support/projections-harness.ts';
import { aBooking, aCancellation, anOpenSchedule, hospital } from '../support/schedule-mother.ts';
import { uniqueName, waitFor } from '../support/wait.ts';

let h: Harness;
let engine: SearchEngine;
let projections: ProjectionsHandle;
let catalog: CatalogDoctorIds;
const alias = uniqueName('analytics').toLowerCase();

beforeAll(async () => {
  h = await projectionsHarness();
  engine = h.engine;
  catalog = await givenCatalogDoctor(h.pool);
  await h.startRelay();
  projections = await startProjections(
    {
      platform: h.config,
      projections: { ...h.pc, PROJECTIONS_COMPONENTS: ['analytics'], ANALYTICS_ALIAS: alias },
    },
    { logger: h.logger, pool: h.pool, kafka: h.kafka, engine, port: 0, host: '127.0.0.1' },
  );
  await projections.ready;
  await projections.projectors[0]?.ready;
});

afterAll(async () => {
  await projections?.stop();
  for (const index of await engine.aliasTargets(alias)) await engine.deleteIndex(index);
  // The departments and doctors go with it (ON DELETE CASCADE).
  if (catalog) await h.pool.query('DELETE FROM institutions WHERE id = $1', [catalog.institutionId]);
  await h?.close();
});

it('projects a booking and its cancellation into the session month, with the catalog facts', async () => {
  const scheduleId = randomUUID();
  const date = nextSessionDate();
  const now = new Date();
  await h.execute(scheduleId, anOpenSchedule({ scheduleId, ...catalog, date, period: 'afternoon', now }));
  const booking = aBooking(scheduleId, { now });
  await h.execute(scheduleId, booking);
  await h.execute(
    scheduleId,
    aCancellation(booking.appointmentId, { actor: hospital(), now: new Date(now.getTime() + 1000) }),
  );

  const index = monthlyIndexName(alias, date);
  const doc = await waitFor(
    async () => {
      const hit = await engine.get<AnalyticsDoc>(index, booking.appointmentId);
      return hit?.source.status === 'cancelled' ? hit : undefined;
    },
    { timeoutMs: 15_000 },
  );
  expect(doc.version).toBe(2); // revisions 0 opened, 1 booked, 2 cancelled
  expect(doc.source).toMatchObject({
    institutionId: catalog.institutionId,
    institutionName: expect.stringMatching(/^测试医院 /) as unknown,
    city: expect.stringMatching(/^测试城 /) as unknown,
    institutionLevel: '三级甲等',
    institutionType: '综合医院',
    departmentCategory: '内科',
    doctorTitle: '主治医师',
    sessionDate: date,
    sessionHour: 13,
    cancelledBy: 'hospital',
  });
  expect(doc.source.leadTimeHours).toBeGreaterThan(0);
  expect(doc.source.transitions.map((t) => t.status)).toEqual(['booked', 'cancelled']);
  expect(await engine.aliasTargets(alias)).toEqual([index]);
});
