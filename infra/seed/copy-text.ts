import type { CopyValue } from './generate.ts';

/** COPY … FROM STDIN (text format) escaping: backslash, tab, newline and carriage return. */
const escapeCopy = (s: string): string =>
  s.replace(/[\\\t\n\r]/g, (ch) =>
    ch === '\\' ? '\\\\' : ch === '\t' ? '\\t' : ch === '\n' ? '\\n' : '\\r',
  );

/** A text[] literal: every element double-quoted, with `"` and `\` backslash-escaped. */
export const arrayLiteral = (items: readonly string[]): string =>
  `{${items.map((s) => `"${s.replace(/[\\"]/g, (ch) => `\\${ch}`)}"`).join(',')}}`;

/** One COPY text-format line (with its trailing newline); null is `\N`. */
export function copyLine(values: readonly CopyValue[]): string {
  return (
    values
      .map((v) => {
        if (v === null) return '\\N';
        if (typeof v === 'number') return String(v);
        if (typeof v === 'string') return escapeCopy(v);
        return escapeCopy(arrayLiteral(v));
      })
      .join('\t') + '\n'
  );
}
