/**
 * No client input yields a 5xx: explicit cases (NUL, lone surrogates, invalid UTF-8, a URL over the
 * header limit, thousands of query parameters, tokens with a foreign issuer or audience, too long
 * a lifetime or an unknown key) and a property-based run that throws arbitrary strings and bodies
 * at every route of both APIs, listed from their route specs (a new route is covered by itself),
 * against the real engines. Every error is a bounded RFC 9457 problem.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import type { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandApiRoutes } from '../../command-api/route-specs.ts';
import { opsRoutes } from '../../platform/http/ops-routes.ts';
import type { RouteSpec } from '../../platform/http/api-spec.ts';
import { type Principal, signToken } from '../../platform/http/auth.ts';
import { searchFromConfig, type SearchEngine } from '../../platform/search/index.ts';
import { ensureInstitutionsIndex, versionedIndexName } from '../../projections/catalog/search-index.ts';
import { queryApiRoutes } from '../../query-api/route-specs.ts';
import {
  anOpenScheduleRequest,
  type Harness,
  newKey,
  openSchedule,
  startCommandApi,
  TEST_SECRET,
} from '../support/command-api-harness.ts';
import { HttpClient, type HttpResponse } from '../support/http-client.ts';
import { startQueryInstance, type QueryInstance } from '../support/query-api-harness.ts';
import { testConfig } from '../support/test-config.ts';
import { uniqueName } from '../support/wait.ts';

const config = testConfig();
let commands: Harness;
let query: QueryInstance;
let queryHttp: HttpClient;
let search: SearchEngine;
/** Real open schedules, so a command with one bad field reaches its stream (a close closes one for good). */
const openScheduleIds: string[] = [];
const searchAlias = uniqueName('hostile-institutions');

beforeAll(async () => {
  commands = await startCommandApi();
  for (let i = 0; i < 3; i++) {
    openScheduleIds.push(await openSchedule(commands, { capacity: 1000 }));
  }
  search = searchFromConfig(config);
  // An (empty) institutions index, so a search reaches the engine with whatever the client sent.
  await ensureInstitutionsIndex(search, searchAlias);
  query = await startQueryInstance(config, {
    catalogPrefix: `${uniqueName('hostile-catalog')}:`,
    searchAlias,
    readModelRoot: uniqueName('hostile-rm'),
    jwtSecret: TEST_SECRET,
  });
  queryHttp = new HttpClient(query.baseUrl);
}, 120_000);

afterAll(async () => {
  queryHttp?.close();
  await query?.close();
  await commands?.stop();
  await search?.deleteIndex(versionedIndexName(searchAlias)).catch(() => undefined);
  await search?.close();
});

const patient = (): Principal => ({ sub: `p-${randomUUID()}`, role: 'patient' });

/** A response to client input: never a 5xx; an error is a problem document of bounded size. */
function expectClientOutcome(res: HttpResponse, what: string): void {
  expect(res.status, `${what} → ${res.status} ${res.text.slice(0, 300)}`).toBeLessThan(500);
  if (res.status >= 400) {
    expect(String(res.headers['content-type']), what).toMatch(/^application\/problem\+json/);
    expect(res.text.length, what).toBeLessThan(16_384);
  }
}

describe('client input never yields a 500', () => {
  it('a NUL or a lone surrogate in a body field → 400 validation_failed naming the field', async () => {
    for (const patientId of ['p\u00001', 'p\uD800', 'p\uDC00x']) {
      const res = await commands.http.post('/v1/appointments', {
        token: await commands.tokenFor({ sub: 'p1', role: 'patient' }),
        idempotencyKey: newKey(),
        body: { scheduleId: randomUUID(), patientId },
      });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({
        code: 'validation_failed',
        'invalid-params': [{ name: 'patientId', reason: expect.stringMatching(/NUL|Unicode/) }],
      });
    }
    const badKey = await commands.http.post('/v1/appointments', {
      token: await commands.tokenFor({ sub: 'p1', role: 'patient' }),
      idempotencyKey: newKey(),
      body: { scheduleId: randomUUID(), patientId: 'p1', 'x\u0000': 1 },
    });
    expect(badKey.status).toBe(400);
    expect(badKey.body['invalid-params'][0].name).toBe('x\\u0000');
  });

  it('a NUL in a path or query parameter → 400 naming it', async () => {
    const path = await commands.http.post('/v1/appointments/a%00b/cancel', {
      token: await commands.tokenFor({ sub: 'admin-1', role: 'admin' }),
      idempotencyKey: newKey(),
      body: { reason: 'token test' },
    });
    expect(path.status).toBe(400);
    expect(path.body['invalid-params'][0]).toMatchObject({ name: 'appointmentId' });
    const q = await queryHttp.get('/v1/institutions?city=a%00b');
    expect(q.status).toBe(400);
    expect(q.body).toMatchObject({ code: 'bad_parameter', 'invalid-params': [{ name: 'city' }] });
  });

  it('a body that is not UTF-8 → 400 malformed_json (not stored as U+FFFD)', async () => {
    const res = await commands.http.post('/v1/appointments', {
      token: await commands.tokenFor({ sub: 'p1', role: 'patient' }),
      idempotencyKey: newKey(),
      headers: { 'content-type': 'application/json' },
      rawBody: Buffer.concat([
        Buffer.from(`{"scheduleId":"${randomUUID()}","patientId":"p`),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('"}'),
      ]),
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'malformed_json', detail: expect.stringMatching(/UTF-8/) });
  });

  it('a URL over the header limit → 431 problem+json; a request that is not HTTP → 400 problem+json', async () => {
    for (const base of [commands.baseUrl, query.baseUrl]) {
      const res = await fetch(`${base}/v1/institutions?city=${'x'.repeat(20_000)}`);
      expect(res.status).toBe(431);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(await res.json()).toMatchObject({ status: 431, code: 'request_header_too_large' });
    }
    const { connect } = await import('node:net');
    const url = new URL(commands.baseUrl);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname, () => socket.write('NOT HTTP AT ALL\r\n\r\n'));
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString()));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(raw).toContain('application/problem+json');
    expect(raw).toContain('"code":"bad_request"');
  });

  it('2,000 query parameters or a 16 KB path → a small error body (instance and invalid-params bounded)', async () => {
    // Short, distinct names: 2,000 of them stay under the 16 KiB header limit.
    const params = Array.from({ length: 2000 }, (_, i) => `${i.toString(36)}=`).join('&');
    const many = await queryHttp.get(`/v1/institutions?city=x&${params}`);
    expect(many.status).toBe(400);
    expect(many.body['invalid-params'].length).toBeLessThanOrEqual(20);
    expect(many.text.length).toBeLessThan(4096);
    const long = await queryHttp.get(`/v1/${'a'.repeat(15_000)}`);
    expect(long.status).toBe(404);
    expect(long.body.instance.length).toBeLessThanOrEqual(256);
    expect(long.text.length).toBeLessThan(2048);
  });
});

describe('tokens over HTTP', () => {
  const encode = (s: string) => new TextEncoder().encode(s);
  const token = (claims: Record<string, unknown>, header: Record<string, unknown> = {}, ttl = 600) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ role: 'admin', iss: 'booking-platform', aud: 'booking-api', ...claims })
      .setProtectedHeader({ alg: 'HS256', ...header })
      .setSubject(typeof claims.sub === 'string' ? claims.sub : 'admin-1')
      .setIssuedAt(now)
      .setExpirationTime(now + ttl)
      .sign(encode(TEST_SECRET));
  };
  const call = async (t: string) =>
    commands.http.post(`/v1/schedules/${randomUUID()}/close`, {
      token: t,
      idempotencyKey: newKey(),
      body: { reason: 'token test' },
    });

  it('the tokens signToken mints pass (kid, iss, aud, iat)', async () => {
    const res = await call(await signToken(TEST_SECRET, { sub: 'admin-1', role: 'admin' }));
    expect(res.status, res.text).toBe(404); // authenticated; that schedule does not exist
  });

  it.each([
    ['another issuer', { iss: 'elsewhere' }, {}, 600, /issuer/],
    ['another audience', { aud: 'other' }, {}, 600, /audience/],
    ['an unknown kid', {}, { kid: 'k9' }, 600, /unknown key/],
    ['a 100-year lifetime', {}, {}, 100 * 365 * 86_400, /lifetime/],
    ['a NUL in sub', { sub: 'a\u0000b' }, {}, 600, /sub/],
  ])('%s → 401 with a clear detail', async (_name, claims, header, ttl, detail) => {
    const res = await call(await token(claims, header, ttl));
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ code: 'unauthenticated', detail: expect.stringMatching(detail) });
  });
});

// ---- property-based: arbitrary input at every route ------------------------------------------

/** UTF-16 code units of every kind: ASCII (mostly), any code unit (lone surrogates too), specials. */
const unit = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...'abcXYZ019-_.:/ %?#&=+,;@!$\'"\\[]{}'.split('')) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.constantFrom('\u0000', '\uD800', '\uDFFF', '\uFFFD', '\uFEFF', '😀', '首页') },
);
const hostileString = fc.oneof(
  { weight: 8, arbitrary: fc.string({ unit, maxLength: 40 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'x'.repeat(70_000),
      '__proto__',
      'constructor',
      '1e309',
      '-1',
      '9'.repeat(40),
      '2030-01-15',
      'morning',
      '',
      randomUUID(),
    ),
  },
);
const jsonValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    hostileString,
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(hostileString, tie('value'), { maxKeys: 4 }),
  ),
})).value;

const keysOf = (schema: z.ZodType | undefined): string[] => {
  const shape = (schema as { shape?: Record<string, unknown> } | undefined)?.shape;
  return shape ? Object.keys(shape) : [];
};

/**
 * Valid bodies of the known commands (by operationId, for the principal `sub`): one field replaced by
 * an arbitrary value gets the input past every other check, down to the decider and PostgreSQL. A
 * route not listed here is still covered by the generic bodies.
 */
const validBodies: Record<string, (sub: string) => Record<string, unknown>> = {
  openSchedule: () => anOpenScheduleRequest(commands.catalog),
  changeCapacity: () => ({ capacity: 6 }),
  closeSchedule: () => ({ reason: 'a reason' }),
  bookAppointment: (sub) => ({ scheduleId: openScheduleIds[0], patientId: sub }),
  cancelAppointment: () => ({ reason: 'a reason' }),
};

type Body = { raw: Buffer } | { json: unknown } | { mutate: [string, unknown] };

/** A body: a valid one with one field changed, the route's fields with arbitrary values, any JSON, or raw bytes. */
const bodyFor = (route: RouteSpec): fc.Arbitrary<Body> => {
  const fields = keysOf(route.body);
  const field = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...(fields.length ? fields : ['x'])) },
    { weight: 1, arbitrary: hostileString },
  );
  const value = fc.oneof({ weight: 3, arbitrary: hostileString }, { weight: 1, arbitrary: jsonValue });
  const fieldsAnyValue = fc.record(Object.fromEntries(fields.map((k) => [k, jsonValue])), {
    requiredKeys: [],
  });
  const raw = fc.constantFrom(
    Buffer.from(`${'['.repeat(5000)}${']'.repeat(5000)}`),
    Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]),
    Buffer.from('{"a":'),
    Buffer.from('{"a":1,"a":2}'),
    Buffer.from(`{"x":"${'y'.repeat(70_000)}"}`),
  );
  return fc.oneof(
    { weight: 4, arbitrary: fc.tuple(field, value).map((mutate): Body => ({ mutate })) },
    { weight: 1, arbitrary: fieldsAnyValue.map((json): Body => ({ json })) },
    { weight: 1, arbitrary: jsonValue.map((json): Body => ({ json })) },
    { weight: 1, arbitrary: raw.map((r): Body => ({ raw: r })) },
  );
};

/** Percent-encodes any string, a lone surrogate as its (invalid) 3-byte UTF-8 form. */
function pctEncode(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const pair = c >= 0xd800 && c <= 0xdbff && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
    if (pair) {
      out += encodeURIComponent(s.slice(i, i + 2));
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      out += [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)]
        .map((b) => `%${b.toString(16).toUpperCase()}`)
        .join('');
    } else {
      out += encodeURIComponent(s[i] ?? '');
    }
  }
  return out;
}

const caseFor = (routes: readonly RouteSpec[]) =>
  fc.integer({ min: 0, max: routes.length - 1 }).chain((i) => {
    const route = routes[i]!;
    const names = route.path.match(/:\w+/g) ?? [];
    return fc.record({
      route: fc.constant(route),
      // Sometimes the id of a real open schedule, so the command reaches the stream.
      params: fc.tuple(
        ...names.map(() =>
          fc.oneof(
            hostileString,
            fc.constantFrom(0, 1, 2).map((i) => openScheduleIds[i] ?? ''),
          ),
        ),
      ),
      query: fc.oneof(
        fc.record(Object.fromEntries(keysOf(route.query).map((k) => [k, hostileString])), {
          requiredKeys: [],
        }),
        fc.dictionary(hostileString, hostileString, { maxKeys: 4 }),
      ),
      body: route.method === 'post' ? bodyFor(route) : fc.constant(undefined),
      sub: fc.option(hostileString, { freq: 6 }),
    });
  });

async function tokenForRoute(route: RouteSpec, sub: string): Promise<string | undefined> {
  const role = route.auth?.roles[0];
  if (!role) return undefined;
  const principal: Principal =
    role === 'hospital' ? { sub, role, institutionId: commands.catalog.institutionId } : { sub, role };
  return signToken(TEST_SECRET, principal, { expiresIn: '10m' });
}

async function throwAt(
  http: HttpClient,
  c: {
    route: RouteSpec;
    params: string[];
    query: Record<string, string | undefined>;
    body?: Body;
    sub: string | null;
  },
) {
  let i = 0;
  const path = c.route.path.replace(/:\w+/g, () => pctEncode(c.params[i++] ?? ''));
  const qs = Object.entries(c.query)
    .map(([k, v]) => `${pctEncode(k)}=${pctEncode(v ?? '')}`)
    .join('&');
  const url = qs ? `${path}?${qs}` : path;
  const sub = c.sub ?? patient().sub;
  const token = await tokenForRoute(c.route, sub);
  const body =
    c.body === undefined
      ? {}
      : 'raw' in c.body
        ? { rawBody: c.body.raw }
        : 'json' in c.body
          ? { body: c.body.json }
          : { body: { ...validBodies[c.route.operationId]?.(sub), [c.body.mutate[0]]: c.body.mutate[1] } };
  const res = await http.request(c.route.method.toUpperCase(), url, {
    ...(token ? { token } : {}),
    ...(c.route.method === 'post' ? { idempotencyKey: newKey() } : {}),
    ...(c.body && 'raw' in c.body ? { headers: { 'content-type': 'application/json' } } : {}),
    ...body,
  });
  expectClientOutcome(res, `${c.route.method.toUpperCase()} ${url.slice(0, 200)}`);
}

describe('property: arbitrary strings and bodies at every route', () => {
  it('command API: no 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(caseFor([...commandApiRoutes, ...opsRoutes]), (c) => throwAt(commands.http, c)),
      { numRuns: 500 },
    );
  }, 60_000);

  it('query API: no 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(caseFor([...queryApiRoutes, ...opsRoutes]), (c) => throwAt(queryHttp, c)),
      { numRuns: 500 },
    );
  }, 60_000);
});
