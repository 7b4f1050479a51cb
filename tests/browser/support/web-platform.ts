/**
 * The platform as the browser sees it, in this test's namespace: the command API, the relay and
 * the Redis projector, a private catalog CDC pipeline (Debezium → Redis and the search engine),
 * the query API and the gateway serving the built web app — all in-process, on free ports.
 * The catalog rows are the test's own: an institution in a city of its own with two doctors,
 * a banner, each doctor with a schedule tomorrow.
 */
import { randomUUID } from 'node:crypto';
import { addDays } from '../../../domain/session-time.ts';
import { loadGatewayConfig } from '../../../gateway/config.ts';
import { startGateway, type GatewayHandle } from '../../../gateway/start.ts';
import { DEV_PATIENT_KEK } from '../../../platform/patient-vault.ts';
import { createLogger } from '../../../platform/logger.ts';
import { ensureWebBuilt, webDist } from '../../../web/build/ensure-built.ts';
import { givenCatalogDoctor, hospitalToday, type CatalogDoctorIds } from '../../support/catalog-mother.ts';
import {
  createCatalogPipeline,
  insertInstitution,
  waitForSnapshotDrained,
  type CatalogPipeline,
} from '../../support/catalog-pipeline.ts';
import {
  anOpenScheduleRequest,
  startCommandApi,
  TEST_SECRET,
  type Harness as CommandHarness,
} from '../../support/command-api-harness.ts';
import { projectionsHarness, type Harness as ProjectionsHarness } from '../../support/projections-harness.ts';
import { testConfig } from '../../support/test-config.ts';
import { uniqueName, waitFor } from '../../support/wait.ts';
import { startQueryNode, type QueryNode, type QueryNodeOptions } from './query-node.ts';

export interface WebPlatform {
  commands: CommandHarness;
  projections: ProjectionsHarness;
  catalog: CatalogPipeline;
  query: QueryNode;
  gateway: GatewayHandle;
  city: string;
  institutionName: string;
  institutionId: string;
  doctors: (CatalogDoctorIds & { scheduleId: string; date: string })[];
  /** Another query API and gateway (the same read models), e.g. one whose Redis goes away. */
  startGatewayOver(query: QueryNode): Promise<GatewayHandle>;
  queryOptions: QueryNodeOptions;
  config: ReturnType<typeof testConfig>;
  close(): Promise<void>;
}

async function givenCatalog(p: CatalogPipeline, city: string, name: string) {
  const institutionId = String(await insertInstitution(p.db, { name, city, rating: 4.8 }));
  const doctors = [
    await givenCatalogDoctor(p.db, { institutionId }),
    await givenCatalogDoctor(p.db, { institutionId }),
  ];
  await p.db.query(
    `INSERT INTO homepage_content (kind, tab, title, url, weight, starts_at, city)
     VALUES ('banner', '首页', '春季义诊：专家号源开放', 'https://example.com/spring', 10, now() - interval '1 hour', $1)`,
    [city],
  );
  return { institutionId, doctors };
}

async function removeCatalog(p: CatalogPipeline, city: string, institutionId: string): Promise<void> {
  await p.db.query('DELETE FROM homepage_content WHERE city = $1', [city]);
  await p.db.query('DELETE FROM doctors WHERE institution_id = $1', [institutionId]);
  await p.db.query('DELETE FROM departments WHERE institution_id = $1', [institutionId]);
  await p.db.query('DELETE FROM institutions WHERE id = $1', [institutionId]);
}

export async function startWebPlatform(): Promise<WebPlatform> {
  await ensureWebBuilt((line) => console.log(`[web-build] ${line}`));
  const config = { ...testConfig(), JWT_SECRET: TEST_SECRET, NODE_ENV: 'test' as const };
  const commands = await startCommandApi({
    config: { JWT_SECRET: TEST_SECRET, IDEMPOTENCY_TTL_HOURS: 24, PATIENT_KEK: DEV_PATIENT_KEK },
  });
  const catalog = await createCatalogPipeline(config, { tag: 'web' });
  const city = uniqueName('浏览城');
  const institutionName = `${uniqueName('浏览器测试医院')}`;
  const given = await givenCatalog(catalog, city, institutionName);
  await catalog.applyConnector();
  await catalog.startProjection(['redis', 'search']);
  await waitForSnapshotDrained(catalog);

  const projections = await projectionsHarness();
  await projections.startRelay();
  await projections.startProjector('redis');
  const queryOptions = {
    catalogPrefix: catalog.keys.prefix,
    searchAlias: catalog.alias,
    readModelRoot: projections.pc.READ_MODEL_PREFIX,
    queryConfig: { QUERY_RYW_TIMEOUT_MS: 2000 },
  };
  const query = await startQueryNode(config, queryOptions);

  const hospitalToken = await commands.tokenFor({
    sub: `h-${randomUUID().slice(0, 8)}`,
    role: 'hospital',
    institutionId: given.institutionId,
  });
  const tomorrow = addDays(hospitalToday(), 1);
  const doctors = [];
  for (const [i, doctor] of given.doctors.entries()) {
    const body = anOpenScheduleRequest(doctor, { date: tomorrow, period: i === 0 ? 'morning' : 'afternoon' });
    const res = await commands.http.post('/v1/schedules', {
      token: hospitalToken,
      idempotencyKey: randomUUID(),
      body,
    });
    if (res.status !== 201) throw new Error(`open schedule: ${res.status} ${JSON.stringify(res.body)}`);
    doctors.push({ ...doctor, scheduleId: (res.body as { scheduleId: string }).scheduleId, date: tomorrow });
  }

  const startGatewayOver = (q: QueryNode) =>
    startGateway({
      config,
      gateway: {
        ...loadGatewayConfig(config, {}),
        commandApiUrl: commands.baseUrl,
        queryApiUrl: q.baseUrl,
        webRoot: webDist,
        metricsTargets: { 'command-api': commands.admin.baseUrl, 'query-api': q.adminUrl },
      },
      logger: createLogger('gateway-test', process.env.LOG_LEVEL ?? 'warn'),
      port: 0,
      adminPort: 0,
      opsSampleMs: 1000,
    });
  const gateway = await startGatewayOver(query);

  // Everything the pages read is in the read models before a browser looks.
  await waitFor(
    async () => {
      const found = await query.get(`/v1/search/institutions?q=${encodeURIComponent(institutionName)}`);
      const body = (await found.json()) as { items?: { id: number }[] };
      return body.items?.some((i) => String(i.id) === given.institutionId) ? true : undefined;
    },
    { timeoutMs: 60_000, what: 'the institution in the search index' },
  );
  // The homepage the first test opens once (no polling): its featured list and banner read the
  // catalog's Redis documents, another consumer group than the search index waited for above.
  await waitFor(
    async () => {
      const res = await query.get(`/v1/homepage?city=${encodeURIComponent(city)}`);
      if (res.status !== 200) return undefined;
      const home = (await res.json()) as {
        featuredInstitutions?: { id: number | string }[];
        banners?: { title?: string }[];
      };
      const featured = home.featuredInstitutions?.some((i) => String(i.id) === given.institutionId);
      return featured && (home.banners?.length ?? 0) > 0 ? true : undefined;
    },
    { timeoutMs: 60_000, what: 'the institution and the banner on the homepage' },
  );
  for (const d of doctors) {
    await waitFor(
      async () => {
        const res = await query.get(`/v1/doctors/${d.doctorId}/schedules?from=${tomorrow}&to=${tomorrow}`);
        return res.status === 200 && ((await res.json()) as { schedules: unknown[] }).schedules.length === 1
          ? true
          : undefined;
      },
      { timeoutMs: 30_000, what: 'the opened schedule in the read model' },
    );
  }

  return {
    commands,
    projections,
    catalog,
    query,
    gateway,
    city,
    institutionName,
    institutionId: given.institutionId,
    doctors,
    startGatewayOver,
    queryOptions,
    config,
    close: async () => {
      await gateway.stop(1000);
      await query.close();
      await projections.close();
      await removeCatalog(catalog, city, given.institutionId).catch(() => undefined);
      await catalog.cleanup();
      await commands.stop();
    },
  };
}
