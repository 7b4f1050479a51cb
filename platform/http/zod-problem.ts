import type { z } from 'zod';
import { AppError, type ErrorCode, type InvalidParam } from './errors.ts';
import { findInvalidText } from './text.ts';

/** Turns a zod failure into a problem listing every invalid field by its path. */
export function zodToAppError(error: z.ZodError, code: ErrorCode = 'validation_failed'): AppError {
  const invalidParams: InvalidParam[] = error.issues.flatMap((issue) => {
    const at = issue.path.map(String);
    // An unknown field is named itself, not the object that holds it.
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ name: [...at, key].join('.'), reason: 'unknown field' }));
    }
    return [{ name: at.length ? at.join('.') : '(body)', reason: issue.message }];
  });
  const names = [...new Set(invalidParams.map((p) => p.name))].join(', ');
  return new AppError(code, `Invalid field(s): ${names}`, { invalidParams });
}

/**
 * Validates a request part (path parameters, query, body) against its schema. Every route parses
 * through here, so the text check (no NUL, no lone surrogate: platform/http/text.ts) runs first
 * for every string of every route, naming the field.
 */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, code?: ErrorCode): z.infer<S> {
  const invalid = findInvalidText(value);
  if (invalid) {
    throw new AppError(code ?? 'validation_failed', `Invalid field(s): ${invalid.name}`, {
      invalidParams: [invalid],
    });
  }
  const result = schema.safeParse(value);
  if (!result.success) throw zodToAppError(result.error, code);
  return result.data;
}
