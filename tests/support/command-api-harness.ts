/**
 * Starts the command API on port 0 against the real database, with test seams (clock, hooks)
 * and token helpers. Each test file gets its own app and pool.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { type CommandApiClient, type CommandBody, createCommandApiClient } from '../../clients/index.ts';
import type { CommandApi, CommandApiDeps } from '../../command-api/app.ts';
import type { CommandHooks } from '../../command-api/command-route.ts';
import { parseConfig } from '../../platform/config.ts';
import { type Principal, principalScope, signToken } from '../../platform/http/auth.ts';
import { createLogger } from '../../platform/logger.ts';
import { patientVault } from '../../platform/patient-vault.ts';
import type { Pool } from '../../platform/pg.ts';
import { startCommandApi as startApi } from '../../command-api/start.ts';
import { type CatalogDoctorIds, givenCatalogDoctor, nextSessionDate } from './catalog-mother.ts';
import { migrateTestDatabase, testPool } from './db.ts';
import { HttpClient } from './http-client.ts';

export const TEST_SECRET = 'integration-test-secret-0123456789-abcdef';

export interface Harness {
  api: CommandApi;
  server: Server;
  pool: Pool;
  http: HttpClient;
  baseUrl: string;
  /** The admin listener: /metrics and the detailed health. */
  admin: HttpClient;
  /** Mutable test seams: set `hooks.afterCommit = …` inside a test, reset afterwards. */
  hooks: CommandHooks;
  clock: { now: () => Date };
  /** An active catalog doctor (with its institution and department) of this harness's own. */
  catalog: CatalogDoctorIds;
  /** A hospital user of `catalog`'s institution. */
  hospital: Principal;
  tokenFor(principal: Principal): Promise<string>;
  /** The Idempotency-Key scope this app stores for `principal` (a patient's by digest). */
  scopeOf(principal: Principal): string;
  /** The typed client of clients/ (what our users call the API with), acting as `principal`. */
  clientFor(principal: Principal): Promise<CommandApiClient>;
  stop(): Promise<void>;
}

export async function startCommandApi(
  opts: Partial<Omit<CommandApiDeps, 'pool' | 'hooks' | 'clock'>> & {
    poolSize?: number;
    /** The pool's application_name (default 'tests'). */
    poolName?: string;
    maxSockets?: number;
  } = {},
): Promise<Harness> {
  await migrateTestDatabase();
  const parsed = parseConfig(process.env);
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  const pool = testPool(opts.poolSize ?? 10, opts.poolName);
  const catalog = await givenCatalogDoctor(pool);
  const hooks: CommandHooks = {};
  const clock = { now: () => new Date() };
  const { config: configOverrides, logger, registry, ...app } = opts;
  // The rate limiter is the rate-limit tests' own (`patientRateLimiter`), never the Redis one.
  const config = {
    ...parsed.config,
    JWT_SECRET: TEST_SECRET,
    PATIENT_COMMANDS_PER_MINUTE: 0,
    ...configOverrides,
  };
  const started = await startApi({
    config,
    logger: logger ?? createLogger('command-api-test', process.env.TEST_LOG_LEVEL ?? 'silent'),
    ...(registry ? { registry } : {}),
    port: 0,
    host: '127.0.0.1',
    migrate: false,
    pool,
    app: {
      idempotencyPurgeIntervalMs: 0,
      ...app,
      clock: () => clock.now(),
      hooks: {
        beforeCommit: (ctx) => hooks.beforeCommit?.(ctx),
        afterCommit: (ctx) => hooks.afterCommit?.(ctx),
      },
    },
  });
  const { api, server } = started;
  const vault = patientVault(pool, config);
  const baseUrl = started.url;
  const { createAgent } = await import('./http-client.ts');
  const http = new HttpClient(baseUrl, createAgent(opts.maxSockets ?? 50));
  const admin = new HttpClient(started.adminUrl, createAgent(2));
  const tokens = new Map<string, string>();
  const tokenFor = async (principal: Principal): Promise<string> => {
    const cacheKey = `${principal.role}:${principal.sub}:${principal.institutionId ?? ''}`;
    let token = tokens.get(cacheKey);
    if (!token) {
      token = await signToken(TEST_SECRET, principal, { expiresIn: '10m' });
      tokens.set(cacheKey, token);
    }
    return token;
  };
  return {
    api,
    server,
    pool,
    http,
    baseUrl,
    admin,
    hooks,
    clock,
    catalog,
    hospital: { sub: 'hospital-1', role: 'hospital', institutionId: catalog.institutionId },
    tokenFor,
    scopeOf: (principal) => principalScope(principal, vault),
    async clientFor(principal) {
      return createCommandApiClient({ baseUrl, token: await tokenFor(principal) });
    },
    async stop() {
      http.close();
      admin.close();
      await started.stop(2_000);
      await pool.end();
    },
  };
}

export const newKey = (): string => randomUUID();

/**
 * A valid open-schedule body for a catalog doctor, on a date of its own (nextSessionDate);
 * `overrides` may make it invalid (the bad-input tests send it raw).
 */
export function anOpenScheduleRequest(
  catalog: CatalogDoctorIds,
  overrides: Record<string, unknown> = {},
): CommandBody<'openSchedule'> {
  return {
    ...catalog,
    date: nextSessionDate(),
    period: 'morning',
    capacity: 5,
    fee: 5000,
    ...overrides,
  };
}

/** Opens a schedule of the harness's catalog doctor as its hospital user and returns its id. */
export async function openSchedule(h: Harness, overrides: Record<string, unknown> = {}): Promise<string> {
  const hospital = await h.clientFor(h.hospital);
  const { data, error, response } = await hospital.POST('/v1/schedules', {
    params: { header: { 'Idempotency-Key': newKey() } },
    body: anOpenScheduleRequest(h.catalog, overrides),
  });
  if (!data) throw new Error(`open schedule failed: ${response.status} ${JSON.stringify(error)}`);
  return data.scheduleId;
}

export async function book(h: Harness, scheduleId: string, patientId: string, key = newKey()) {
  return h.http.post('/v1/appointments', {
    token: await h.tokenFor({ sub: patientId, role: 'patient' }),
    idempotencyKey: key,
    body: { scheduleId, patientId },
  });
}

export const randomPatient = (): string => `patient-${randomUUID().slice(0, 13)}`;
