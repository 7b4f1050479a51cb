/**
 * POST /dev/sign-in {sub?, role?}: mints a token exactly as `npm run token` does
 * (command-api/token-cli.ts: signToken with the first key of JWT_KEYS, else JWT_SECRET), so the web
 * app can be used locally without an identity provider. Mounted only outside production.
 */
import { randomUUID } from 'node:crypto';
import express, { type Router } from 'express';
import { z } from 'zod';
import { signToken, type JwtSettings } from '../platform/http/auth.ts';
import { parseOrThrow } from '../platform/http/zod-problem.ts';

const signInBody = z.strictObject({
  sub: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .optional(),
  role: z.enum(['patient', 'admin']).default('patient'),
});

export function devSignInRouter(jwt: JwtSettings): Router {
  const router = express.Router();
  router.post('/dev/sign-in', express.json({ limit: '1kb' }), async (req, res) => {
    const body = parseOrThrow(signInBody, req.body ?? {}, 'validation_failed');
    const sub = body.sub ?? `p-${randomUUID().slice(0, 8)}`;
    const token = await signToken(jwt, { sub, role: body.role }, { expiresIn: '1h' });
    res.status(201).json({ token, sub, role: body.role });
  });
  return router;
}
