import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable, isTransientDatabaseError, pgErrorKind } from '../../platform/pg.ts';
import { isTransientError, PoisonError } from '../../projections/runtime/errors.ts';

/** A driver error as `pg` raises it: an Error carrying the SQLSTATE (or errno) in `code`. */
const pgError = (code: string, message = `error ${code}`) => Object.assign(new Error(message), { code });

describe('one PostgreSQL error classifier for the command API and the projectors', () => {
  const cases: [code: string, kind: ReturnType<typeof pgErrorKind>, why: string][] = [
    ['57014', 'unavailable', 'statement timeout / query cancelled'],
    ['57P01', 'unavailable', 'admin shutdown'],
    ['57P02', 'unavailable', 'crash shutdown'],
    ['57P03', 'unavailable', 'cannot connect now'],
    ['08000', 'unavailable', 'connection exception'],
    ['08006', 'unavailable', 'connection failure'],
    ['53300', 'unavailable', 'too many connections'],
    ['53200', 'unavailable', 'out of memory'],
    ['ECONNREFUSED', 'unavailable', 'socket refused'],
    ['ECONNRESET', 'unavailable', 'socket reset'],
    ['EHOSTUNREACH', 'unavailable', 'host unreachable'],
    ['40001', 'conflict', 'serialization failure'],
    ['40P01', 'conflict', 'deadlock'],
    ['23505', 'other', 'unique violation'],
    ['23503', 'other', 'foreign key violation'],
    ['22P02', 'other', 'invalid text representation'],
    ['42P01', 'other', 'undefined table'],
    ['42601', 'other', 'syntax error'],
  ];

  it.each(cases)('%s is %s (%s)', (code, kind) => {
    const err = pgError(code);
    expect(pgErrorKind(err)).toBe(kind);
    expect(isDatabaseUnavailable(err)).toBe(kind === 'unavailable');
    expect(isTransientDatabaseError(err)).toBe(kind !== 'other');
    // The projectors retry exactly what the classifier calls transient, even behind a cause.
    expect(isTransientError(err)).toBe(kind !== 'other');
    expect(isTransientError(new Error('handler failed', { cause: err }))).toBe(kind !== 'other');
  });

  it('a statement timeout is retried by the projectors, not dead-lettered', () => {
    const timeout = pgError('57014', 'canceling statement due to statement timeout');
    expect(isDatabaseUnavailable(timeout)).toBe(true);
    expect(isTransientError(timeout)).toBe(true);
  });

  it('driver messages without a code mean the connection is gone', () => {
    expect(pgErrorKind(new Error('Connection terminated unexpectedly'))).toBe('unavailable');
    expect(pgErrorKind(new Error('timeout exceeded when trying to connect'))).toBe('unavailable');
    expect(pgErrorKind(new Error('boom'))).toBe('other');
    expect(pgErrorKind('not an error')).toBe('other');
  });

  it('a poison error stays poison whatever it wraps', () => {
    expect(isTransientError(new PoisonError('bad payload', { cause: pgError('57014') }))).toBe(false);
  });
});
