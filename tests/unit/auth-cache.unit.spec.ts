import type { Request, Response } from 'express';
import * as jose from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { authenticate, principalOf, signToken } from '../../platform/http/auth.ts';
import { AppError } from '../../platform/http/errors.ts';

// Counts the signature verifications auth.ts performs (it calls jose's jwtVerify).
vi.mock('jose', async (importOriginal) => {
  const actual = await importOriginal<typeof jose>();
  return { ...actual, jwtVerify: vi.fn(actual.jwtVerify) };
});

const SECRET = 'unit-test-secret-unit-test-secret';

function request(token: string): Request {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  return { header: (name: string) => headers[name.toLowerCase()] } as unknown as Request;
}

async function run(mw: ReturnType<typeof authenticate>, token: string) {
  const req = request(token);
  const next = vi.fn();
  await mw(req, {} as Response, next);
  expect(next).toHaveBeenCalledOnce();
  return principalOf(req);
}

afterEach(() => {
  vi.useRealTimers();
});

describe('authenticate: verified-token cache', () => {
  it('accepts the same token again (from the cache) and still rejects a tampered one', async () => {
    const mw = authenticate({ jwt: SECRET });
    const token = await signToken(SECRET, { sub: 'p-1', role: 'patient' });
    vi.mocked(jose.jwtVerify).mockClear();
    expect(await run(mw, token)).toEqual({ sub: 'p-1', role: 'patient' });
    expect(await run(mw, token)).toEqual({ sub: 'p-1', role: 'patient' });
    expect(await run(mw, token)).toEqual({ sub: 'p-1', role: 'patient' });
    // Verified once; the two repeats came from the cache.
    expect(jose.jwtVerify).toHaveBeenCalledOnce();

    const [h, p, s] = token.split('.') as [string, string, string];
    const tampered = `${h}.${p}.${s.slice(0, -2)}${s.endsWith('AA') ? 'BB' : 'AA'}`;
    await expect(run(mw, tampered)).rejects.toBeInstanceOf(AppError);
    const forged = await signToken('another-secret-another-secret-xx', { sub: 'p-1', role: 'admin' });
    await expect(run(mw, forged)).rejects.toMatchObject({ code: 'unauthenticated' });
  });

  it('never serves a token from the cache past its exp', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const mw = authenticate({ jwt: SECRET });
    const token = await signToken(SECRET, { sub: 'p-2', role: 'patient' }, { expiresIn: '30s' });
    expect(await run(mw, token)).toEqual({ sub: 'p-2', role: 'patient' });
    vi.advanceTimersByTime(60_000); // past exp + the verifier's 5 s clock tolerance
    await expect(run(mw, token)).rejects.toMatchObject({ code: 'unauthenticated', detail: 'Token expired' });
  });
});
