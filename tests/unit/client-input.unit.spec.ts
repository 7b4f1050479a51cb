import { describe, expect, it } from 'vitest';
import { defaultAdminPort } from '../../platform/http/admin.ts';
import {
  AppError,
  boundedInvalidParams,
  PROBLEM_LIMITS,
  toProblem,
  truncate,
} from '../../platform/http/errors.ts';
import { publicHealth } from '../../platform/http/health.ts';
import { clientErrorResponse } from '../../platform/http/server.ts';
import { findInvalidText, invalidTextReason } from '../../platform/http/text.ts';
import { parseOrThrow } from '../../platform/http/zod-problem.ts';
import { z } from 'zod';

describe('text check', () => {
  it.each([
    ['plain text', 'Dr. Wang 王医生 😀', undefined],
    ['a NUL', 'a\u0000b', /NUL/],
    ['a lone high surrogate', 'a\uD800b', /lone surrogate/],
    ['a lone low surrogate', '\uDC00', /lone surrogate/],
    ['a high surrogate at the end', 'x\uD83D', /lone surrogate/],
  ])('%s', (_name, s, reason) => {
    const found = invalidTextReason(s);
    if (reason) expect(found).toMatch(reason);
    else expect(found).toBeUndefined();
  });

  it('names the path of the first bad string, or a bad key escaped', () => {
    expect(findInvalidText({ a: ['ok', { b: 'x\u0000' }] })).toEqual({
      name: 'a.1.b',
      reason: 'contains a NUL character',
    });
    expect(findInvalidText({ ['k\u0000']: 1 })).toMatchObject({ name: 'k\\u0000', reason: /field name/ });
    expect(findInvalidText('\uD800')).toMatchObject({ name: '(body)' });
    expect(findInvalidText({ a: 1, b: [true, null, 'fine'] })).toBeUndefined();
  });

  it('parseOrThrow refuses before the schema, with the code of the request part', () => {
    const schema = z.object({ city: z.string() });
    let err: unknown;
    try {
      parseOrThrow(schema, { city: 'a\u0000' }, 'bad_parameter');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'bad_parameter', invalidParams: [{ name: 'city' }] });
  });
});

describe('bounded problems', () => {
  it('truncates to the limit with an ellipsis, never splitting a surrogate pair', () => {
    expect(truncate('abc', 3)).toBe('abc');
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('ab😀cd', 4)).toBe('ab…');
  });

  it('keeps at most 20 invalid-params, each bounded, and bounds instance and detail', () => {
    const many = Array.from({ length: 1000 }, (_, i) => ({
      name: `p${i}${'n'.repeat(500)}`,
      reason: 'r'.repeat(5000),
    }));
    const bounded = boundedInvalidParams(many);
    expect(bounded).toHaveLength(PROBLEM_LIMITS.invalidParams);
    expect(bounded[0]!.name.length).toBeLessThanOrEqual(PROBLEM_LIMITS.paramName);
    expect(bounded[0]!.reason.length).toBeLessThanOrEqual(PROBLEM_LIMITS.paramReason);
    const problem = toProblem(
      new AppError('validation_failed', 'd'.repeat(10_000), { invalidParams: many }),
      `/v1/${'x'.repeat(20_000)}`,
    );
    expect(problem.instance!.length).toBeLessThanOrEqual(PROBLEM_LIMITS.instance);
    expect(problem.detail!.length).toBeLessThanOrEqual(PROBLEM_LIMITS.detail);
    expect(JSON.stringify(problem).length).toBeLessThan(10_000);
  });

  it('answers parser-level errors as a complete problem+json HTTP response', () => {
    const raw = clientErrorResponse('request_header_too_large');
    const [head, body] = raw.split('\r\n\r\n') as [string, string];
    expect(head).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    expect(head).toContain('Content-Type: application/problem+json');
    expect(head).toContain(`Content-Length: ${Buffer.byteLength(body)}`);
    expect(JSON.parse(body)).toMatchObject({ status: 431, code: 'request_header_too_large' });
    expect(clientErrorResponse('bad_request')).toMatch(/^HTTP\/1\.1 400 Bad Request/);
  });
});

describe('exposure', () => {
  it('the public health shows status and reasons only, with the same status code', () => {
    expect(
      publicHealth({
        statusCode: 503,
        body: {
          status: 'not_ready',
          reasons: ['kafka: down'],
          checks: { kafka: 'failing' },
          lag: { relay: 3 },
        },
      }),
    ).toEqual({ statusCode: 503, body: { status: 'not_ready', reasons: ['kafka: down'] } });
    expect(publicHealth({ statusCode: 200, body: { status: 'ok', checks: {} } })).toEqual({
      statusCode: 200,
      body: { status: 'ok' },
    });
  });

  it('the admin port is the public one + 1000 unless set; a picked public port picks the admin port too', () => {
    expect(defaultAdminPort(3001)).toBe(4001);
    expect(defaultAdminPort(3001, 9000)).toBe(9000);
    expect(defaultAdminPort(0)).toBe(0);
  });
});
