import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  jwtSettings,
  jwtSettingsOf,
  lifetimeProblem,
  principalScope,
  signToken,
  verifyToken,
  type JwtSettings,
} from '../../platform/http/auth.ts';
import { AppError } from '../../platform/http/errors.ts';
import { DEV_PATIENT_KEK, patientVault } from '../../platform/patient-vault.ts';
import type { Queryable } from '../../platform/pg.ts';

const OLD = 'old-secret-old-secret-old-secret-0000';
const NEW = 'new-secret-new-secret-new-secret-1111';
const settings: JwtSettings = {
  keys: [
    { kid: 'k2', secret: NEW },
    { kid: 'k1', secret: OLD },
  ],
  issuer: 'booking-platform',
  audience: 'booking-api',
  maxTtlSeconds: 3600,
};
const now = () => Math.floor(Date.now() / 1000);

/** A token with exactly the given header and claims (what a foreign or careless issuer might send). */
const raw = (
  claims: Record<string, unknown>,
  opts: { kid?: string; secret?: string; iat?: number; exp?: number } = {},
) =>
  new SignJWT({ role: 'patient', iss: 'booking-platform', aud: 'booking-api', ...claims })
    .setProtectedHeader({ alg: 'HS256', ...(opts.kid === undefined ? {} : { kid: opts.kid }) })
    .setSubject(typeof claims.sub === 'string' ? claims.sub : 'p-1')
    .setIssuedAt(opts.iat ?? now())
    .setExpirationTime(opts.exp ?? now() + 600)
    .sign(new TextEncoder().encode(opts.secret ?? NEW));

const rejection = async (token: Promise<string> | string, jwt: JwtSettings | string = settings) => {
  const err = await verifyToken(await token, jwt).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).code).toBe('unauthenticated');
  return (err as AppError).detail;
};

describe('token checks: issuer, audience, lifetime, key id', () => {
  it('given a token from signToken, when verified, then it passes and names its key, issuer and audience', async () => {
    const token = await signToken(settings, { sub: 'p-1', role: 'patient' });
    const payload = decodeJwt(token);
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'HS256', kid: 'k2' });
    expect(payload).toMatchObject({ iss: 'booking-platform', aud: 'booking-api', sub: 'p-1' });
    expect(typeof payload.iat).toBe('number');
    expect(await verifyToken(token, settings)).toEqual({ sub: 'p-1', role: 'patient' });
  });

  it('verifies a token of the previous key by its kid (rotation) and refuses an unknown kid', async () => {
    expect(await verifyToken(await raw({}, { kid: 'k1', secret: OLD }), settings)).toMatchObject({
      sub: 'p-1',
    });
    expect(await rejection(raw({}, { kid: 'k0', secret: OLD }))).toMatch(/unknown key/);
    // The right kid with another key's secret is a bad signature.
    expect(await rejection(raw({}, { kid: 'k1', secret: NEW }))).toBe('Invalid token');
  });

  it('takes a token without kid as the compatibility key `default` only', async () => {
    expect(await verifyToken(await raw({}, { secret: NEW }), NEW)).toMatchObject({ sub: 'p-1' });
    expect(await rejection(raw({}, { secret: NEW }))).toMatch(/unknown key/);
  });

  it.each([
    ['another issuer', { iss: 'someone-else' }, /issuer/],
    ['no issuer', { iss: undefined }, /issuer|iss/],
    ['another audience', { aud: 'other-api' }, /audience/],
  ])('refuses %s', async (_name, claims, detail) => {
    expect(await rejection(raw(claims, { kid: 'k2' }))).toMatch(detail);
  });

  it('refuses a 100-year token and one whose iat lies in the future, and one without iat', async () => {
    const century = await raw({}, { kid: 'k2', exp: now() + 100 * 365 * 86_400 });
    expect(await rejection(century)).toMatch(/lifetime .* exceeds the maximum of 3600 s/);
    expect(await rejection(raw({}, { kid: 'k2', iat: now() + 3600, exp: now() + 4000 }))).toMatch(
      /iat|future/,
    );
    const noIat = await new SignJWT({ role: 'patient', iss: 'booking-platform', aud: 'booking-api' })
      .setProtectedHeader({ alg: 'HS256', kid: 'k2' })
      .setSubject('p-1')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(NEW));
    expect(await rejection(noIat)).toMatch(/iat/);
  });

  it('mints no token past the maximum lifetime', async () => {
    await expect(signToken(settings, { sub: 'p-1', role: 'patient' }, { expiresIn: '2h' })).rejects.toThrow(
      /exceeds the maximum/,
    );
  });

  it('refuses a sub with a NUL or a lone surrogate with 401, not a failure later', async () => {
    expect(await rejection(raw({ sub: 'p\u00001' }, { kid: 'k2' }))).toMatch(/sub/);
    expect(await rejection(raw({ sub: 'p\uD8001' }, { kid: 'k2' }))).toMatch(/sub/);
  });
});

describe('lifetimeProblem', () => {
  it('accepts exactly the maximum and refuses one second more', () => {
    expect(lifetimeProblem({ iat: 100, exp: 3700 }, 3600, 100)).toBeUndefined();
    expect(lifetimeProblem({ iat: 100, exp: 3701 }, 3600, 100)).toMatch(/exceeds/);
    expect(lifetimeProblem({ iat: 106, exp: 200 }, 3600, 100)).toMatch(/future/);
    expect(lifetimeProblem({ iat: 105, exp: 200 }, 3600, 100)).toBeUndefined(); // within the clock tolerance
  });
});

describe('jwt settings', () => {
  it('a bare secret is key `default` with the default issuer, audience and lifetime', () => {
    expect(jwtSettings(OLD)).toEqual({
      keys: [{ kid: 'default', secret: OLD }],
      issuer: 'booking-platform',
      audience: 'booking-api',
      maxTtlSeconds: 86_400,
    });
  });

  it('JWT_KEYS replaces JWT_SECRET, in order', () => {
    expect(jwtSettingsOf({ JWT_SECRET: OLD, JWT_KEYS: `k2:${NEW},k1:${OLD}` }).keys).toEqual(settings.keys);
  });
});

describe('principalScope', () => {
  const vault = { digest: (id: string) => `d(${id})` };

  it('tells apart principals that share a sub', () => {
    const scopes = [
      principalScope({ sub: 'x', role: 'admin' }, vault),
      principalScope({ sub: 'x', role: 'patient' }, vault),
      principalScope({ sub: 'x', role: 'hospital', institutionId: '1' }, vault),
      principalScope({ sub: 'x', role: 'hospital', institutionId: '2' }, vault),
    ];
    expect(new Set(scopes).size).toBe(4);
    expect(scopes[2]).toBe('hospital:1:x');
  });

  it("names a patient by the vault's digest of the sub, never the sub (stored in clear)", () => {
    // No I/O: the digest is an HMAC under the KEK.
    const vault = patientVault({} as Queryable, { PATIENT_KEK: DEV_PATIENT_KEK });
    const scope = principalScope({ sub: 'patient-42', role: 'patient' }, vault);
    expect(scope).toBe(`patient:#:${vault.digest('patient-42')}`);
    expect(scope).not.toContain('patient-42');
    // `#` is no institution id nor the `-` of a scope holding a sub: the two forms never meet.
    expect(scope).not.toBe(principalScope({ sub: `#:${vault.digest('patient-42')}`, role: 'admin' }, vault));
  });
});
