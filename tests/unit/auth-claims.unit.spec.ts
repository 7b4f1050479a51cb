import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { signToken, verifyToken } from '../../platform/http/auth.ts';
import { AppError } from '../../platform/http/errors.ts';

const SECRET = 'unit-test-secret-unit-test-secret';

const raw = (claims: Record<string, unknown>) =>
  // Valid in every other respect (issuer, audience, iat), so only the claims under test can fail.
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('someone')
    .setIssuer('booking-platform')
    .setAudience('booking-api')
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(SECRET));

describe('token claims: the institution a hospital acts for', () => {
  it('given a hospital token with institutionId, when verified, then the principal carries it', async () => {
    const token = await signToken(SECRET, { sub: 'h-1', role: 'hospital', institutionId: '42' });
    expect(await verifyToken(token, SECRET)).toEqual({ sub: 'h-1', role: 'hospital', institutionId: '42' });
  });

  it.each([
    ['a hospital without institutionId', { role: 'hospital' }],
    ['a patient with institutionId', { role: 'patient', institutionId: '42' }],
    ['a hospital with a non-catalog institution id', { role: 'hospital', institutionId: 'h1; drop' }],
  ])('refuses %s with 401', async (_name, claims) => {
    const err = await verifyToken(await raw(claims), SECRET).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('unauthenticated');
    expect((err as AppError).detail).toMatch(/institutionId/);
  });
});
