import fc from 'fast-check';
import type { Request } from 'express';
import { describe, expect, it } from 'vitest';
import {
  compareCheckpoints,
  decodeCheckpoint,
  encodeCheckpoint,
} from '../../platform/event-store/pg-event-store.ts';
import { InvalidCheckpointError } from '../../platform/event-store/event-store.ts';
import { AppError } from '../../platform/http/errors.ts';
import { canonicalJson, parseIdempotencyKey, requestFingerprint } from '../../platform/http/idempotency.ts';
import { KeyedQueue } from '../../platform/keyed-queue.ts';

const withHeader = (value: string | undefined) => ({ header: () => value }) as unknown as Request;

describe('checkpoints', () => {
  it('round-trip and order by (transaction id, position)', () => {
    expect(decodeCheckpoint(encodeCheckpoint(12n, 5n))).toEqual({ transactionId: 12n, position: 5n });
    expect(compareCheckpoints('12:5', '12:6')).toBe(-1);
    expect(compareCheckpoints('13:1', '12:600')).toBe(1);
    expect(compareCheckpoints('7:7', '7:7')).toBe(0);
  });

  it('rejects anything else', () => {
    for (const bad of ['', '1', '1:', 'a:b', '1:2:3', '-1:2']) {
      expect(() => decodeCheckpoint(bad)).toThrow(InvalidCheckpointError);
    }
  });
});

describe('canonical JSON and request fingerprints', () => {
  it('ignores key order at every level but not array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, 1], c: null } })).toBe('{"a":{"c":null,"d":[2,1]},"b":1}');
    expect(requestFingerprint('post', '/x', { a: 1, b: 2 })).toBe(
      requestFingerprint('POST', '/x', { b: 2, a: 1 }),
    );
    expect(requestFingerprint('POST', '/x', [1, 2])).not.toBe(requestFingerprint('POST', '/x', [2, 1]));
  });

  it('equals JSON.parse-able output for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value) ?? 'null'));
      }),
    );
  });
});

describe('Idempotency-Key header', () => {
  it('accepts a bare token or a structured-field string', () => {
    expect(parseIdempotencyKey(withHeader('8e03978e-40d5-43e8-bc93-6894a57f9324'))).toBe(
      '8e03978e-40d5-43e8-bc93-6894a57f9324',
    );
    expect(parseIdempotencyKey(withHeader('"abc def"'))).toBe('abc def');
    expect(parseIdempotencyKey(withHeader('"a\\"b"'))).toBe('a"b');
  });

  it('400s when missing or malformed', () => {
    const codeOf = (value: string | undefined) => {
      try {
        parseIdempotencyKey(withHeader(value));
        return 'ok';
      } catch (err) {
        return err instanceof AppError ? err.code : 'other';
      }
    };
    expect(codeOf(undefined)).toBe('idempotency_key_missing');
    expect(codeOf('  ')).toBe('idempotency_key_missing');
    expect(codeOf('x'.repeat(256))).toBe('idempotency_key_invalid');
    expect(codeOf('has space')).toBe('idempotency_key_invalid');
    expect(codeOf('"unterminated')).toBe('idempotency_key_invalid');
  });
});

describe('KeyedQueue', () => {
  it('runs tasks for one key one at a time, in order, and other keys concurrently', async () => {
    const queue = new KeyedQueue();
    const log: string[] = [];
    let running = 0;
    let maxRunning = 0;
    const task = (name: string, ms: number) => async () => {
      running += 1;
      maxRunning = Math.max(maxRunning, running);
      log.push(`start ${name}`);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`end ${name}`);
      running -= 1;
      return name;
    };
    const results = await Promise.all([
      queue.run('a', task('a1', 10)),
      queue.run('a', task('a2', 1)),
      queue.run('b', task('b1', 1)),
    ]);
    expect(results).toEqual(['a1', 'a2', 'b1']);
    expect(log.indexOf('end a1')).toBeLessThan(log.indexOf('start a2'));
    expect(log.indexOf('start b1')).toBeLessThan(log.indexOf('end a1'));
    expect(maxRunning).toBe(2);
    expect(queue.size).toBe(0);
  });

  it('keeps going after a failed task', async () => {
    const queue = new KeyedQueue();
    await expect(queue.run('k', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(queue.run('k', () => Promise.resolve(42))).resolves.toBe(42);
  });
});
