/**
 * Client strings the platform refuses wherever they arrive (body fields and keys, path and query
 * parameters, token claims): a NUL (PostgreSQL text and jsonb cannot hold one) and a lone UTF-16
 * surrogate (not Unicode: it cannot be encoded as UTF-8, so it would be stored as U+FFFD or fail).
 * Checked once, generically, before validation, so every route answers 400 naming the field
 * instead of failing in a driver with a 500.
 */

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why a string is not acceptable text, or undefined when it is. */
export function invalidTextReason(s: string): string | undefined {
  if (s.includes('\u0000')) return 'contains a NUL character';
  if (LONE_SURROGATE.test(s)) return 'contains invalid Unicode (a lone surrogate)';
  return undefined;
}

export interface InvalidText {
  /** Dotted path of the offending string (`(body)` for the value itself); a bad key names itself. */
  name: string;
  reason: string;
}

/** Deepest nesting walked; deeper values are left to the schema (which refuses them anyway). */
const MAX_DEPTH = 64;

/** The first string (value or object key) in a parsed JSON value or parameter object that is not acceptable text. */
export function findInvalidText(
  value: unknown,
  path: readonly string[] = [],
  depth = 0,
): InvalidText | undefined {
  const name = () => (path.length ? path.join('.') : '(body)');
  if (typeof value === 'string') {
    const reason = invalidTextReason(value);
    return reason ? { name: name(), reason } : undefined;
  }
  if (value === null || typeof value !== 'object' || depth >= MAX_DEPTH) return undefined;
  const entries: [string, unknown][] = Array.isArray(value)
    ? value.map((v, i) => [String(i), v])
    : Object.entries(value);
  for (const [key, child] of entries) {
    const keyReason = invalidTextReason(key);
    // The key itself is the bad string: report it escaped, never raw.
    if (keyReason)
      return {
        name: [...path, JSON.stringify(key).slice(1, -1)].join('.'),
        reason: `field name ${keyReason}`,
      };
    const found = findInvalidText(child, [...path, key], depth + 1);
    if (found) return found;
  }
  return undefined;
}
