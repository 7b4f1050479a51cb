/**
 * PROBLEM_BASE_URL: where problem `type` URIs point (`<base><code>`). Unset, they are
 * origin-relative (`/problems/<code>`) and resolve to the page the API that answered serves; set
 * it (e.g. `https://api.booking.example/problems/`) when clients must see absolute URIs, e.g.
 * behind a gateway that rewrites paths. Read by each API's start function, validated like the
 * rest of the configuration (kept out of platform/config.ts only because it concerns HTTP alone).
 */
import { z } from 'zod';
import { DEFAULT_PROBLEM_BASE } from './errors.ts';

const problemBaseSchema = z
  .string()
  .trim()
  .refine((s) => s.startsWith('/') || URL.canParse(s), 'expected an absolute URL or a path starting with /')
  .transform((s) => (s.endsWith('/') ? s : `${s}/`));

/** The configured base, with a trailing slash; throws one readable line when it is invalid. */
export function problemBaseFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const raw = env.PROBLEM_BASE_URL;
  if (raw === undefined || raw.trim() === '') return DEFAULT_PROBLEM_BASE;
  const parsed = problemBaseSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`PROBLEM_BASE_URL: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  }
  return parsed.data;
}
