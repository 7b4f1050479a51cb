/**
 * Bearer-token authentication: HS256 JWTs (jose) carrying `sub` and `role`. The verified principal
 * is attached to the request and read with `principalOf(req)`.
 */
import type { Request, RequestHandler } from 'express';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import { AppError } from './errors.ts';

export const roles = ['patient', 'hospital', 'admin'] as const;
export type Role = (typeof roles)[number];

export interface Principal {
  sub: string;
  role: Role;
}

const claimsSchema = z.object({
  sub: z.string().min(1).max(128),
  role: z.enum(roles),
});

const principals = new WeakMap<Request, Principal>();

const secretKey = (secret: string): Uint8Array => new TextEncoder().encode(secret);

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="booking"' };

export async function verifyToken(token: string, secret: string): Promise<Principal> {
  try {
    const { payload } = await jwtVerify(token, secretKey(secret), {
      algorithms: ['HS256'],
      requiredClaims: ['exp'],
      clockTolerance: 5,
    });
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) {
      throw new AppError('unauthenticated', 'Token lacks a valid sub or role claim', { headers: CHALLENGE });
    }
    return claims.data;
  } catch (err) {
    if (err instanceof AppError) throw err;
    const expired = err instanceof joseErrors.JWTExpired;
    throw new AppError('unauthenticated', expired ? 'Token expired' : 'Invalid token', {
      headers: { 'WWW-Authenticate': `Bearer realm="booking", error="invalid_token"` },
    });
  }
}

export async function signToken(
  secret: string,
  principal: Principal,
  opts: { expiresIn?: string | number } = {},
): Promise<string> {
  return new SignJWT({ role: principal.role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(principal.sub)
    .setIssuedAt()
    .setExpirationTime(opts.expiresIn ?? '1h')
    .sign(secretKey(secret));
}

/** 401 unless a valid `Authorization: Bearer <jwt>` is present. */
export function authenticate(opts: { secret: string }): RequestHandler {
  return async (req, _res, next) => {
    const header = req.header('authorization');
    const match = header ? /^Bearer\s+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(header) : null;
    if (!match?.[1]) throw new AppError('unauthenticated', 'Missing bearer token', { headers: CHALLENGE });
    principals.set(req, await verifyToken(match[1], opts.secret));
    next();
  };
}

export function principalOf(req: Request): Principal {
  const principal = principals.get(req);
  if (!principal) throw new AppError('unauthenticated', 'Missing bearer token', { headers: CHALLENGE });
  return principal;
}

/** 403 unless the authenticated principal has one of `allowed`. */
export function requireRole(...allowed: Role[]): RequestHandler {
  return (req, _res, next) => {
    const principal = principalOf(req);
    if (!allowed.includes(principal.role)) {
      throw new AppError('forbidden', `Role ${principal.role} may not do this`);
    }
    next();
  };
}
