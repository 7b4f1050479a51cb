import { spawnSync } from 'node:child_process';
import { decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { DEV_JWT_SECRET } from '../../platform/config.ts';
import { jwtSettingsOf, verifyToken } from '../../platform/http/auth.ts';

// The process-level contract: a bad environment prints one line per bad key and exits non-zero, no stack trace.
describe('config on the command line', () => {
  const run = (env: Record<string, string>) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'platform/config-cli.ts'], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
      timeout: 30_000,
    });

  it('rejects KAFKA_BROKERS=nonsense and PORT=abc with one line each and exit code 1', () => {
    const result = run({ KAFKA_BROKERS: 'nonsense', PORT: 'abc' });
    expect(result.status).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines[0]).toBe('Invalid configuration:');
    expect(lines.slice(1)).toHaveLength(2);
    expect(result.stderr).toContain('KAFKA_BROKERS="nonsense"');
    expect(result.stderr).toContain('PORT="abc"');
    expect(result.stderr).not.toMatch(/\bat .*\.ts:\d+/);
  });

  it('prints the effective configuration with secrets masked', () => {
    const result = run({ JWT_SECRET: 'x'.repeat(40) });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('KAFKA_BROKERS=127.0.0.1:9092');
    expect(result.stdout).toContain('JWT_SECRET=********');
    expect(result.stdout).not.toContain('x'.repeat(40));
  });

  it('refuses to start in production with the development JWT secret, and masks JWT_KEYS', () => {
    const refused = run({ NODE_ENV: 'production', JWT_SECRET: '', JWT_KEYS: '' });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/JWT_SECRET="": must be set in production/);
    const keys = `k2:${'s'.repeat(40)},k1:${'t'.repeat(40)}`;
    // Production also needs its own key-encryption key (docs/adr/0010), masked like the secrets.
    const kek = 'ab'.repeat(32);
    const shown = run({ NODE_ENV: 'production', JWT_KEYS: keys, PATIENT_KEK: kek });
    expect(shown.status).toBe(0);
    expect(shown.stdout).toContain('JWT_KEYS=********');
    expect(shown.stdout).toContain('PATIENT_KEK=********');
    expect(shown.stdout).not.toContain(kek);
    expect(shown.stdout).toContain('HOST=127.0.0.1');
    expect(shown.stdout).not.toContain('s'.repeat(40));
  });

  it('masks the EventStoreDB password and refuses eventstoredb without its URL', () => {
    const url = 'esdb://admin:changeit@127.0.0.1:2113?tls=false';
    const shown = run({ EVENT_STORE: 'eventstoredb', EVENTSTORE_URL: url });
    expect(shown.status).toBe(0);
    expect(shown.stdout).toContain('EVENTSTORE_URL=esdb://admin:****@127.0.0.1:2113?tls=false');
    expect(shown.stdout).not.toContain('changeit');

    const missing = run({ EVENT_STORE: 'eventstoredb', EVENTSTORE_URL: '' });
    expect(missing.status).toBe(1);
    expect(missing.stderr.trim().split('\n').slice(1)).toEqual([
      expect.stringMatching(/^ {2}- EVENTSTORE_URL="": required when EVENT_STORE=eventstoredb/),
    ]);
  });
});

describe('npm run token', () => {
  const mint = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'command-api/token-cli.ts', ...args], {
      env: { ...process.env, JWT_SECRET: '', JWT_KEYS: '', ...env },
      encoding: 'utf8',
      timeout: 30_000,
    });
  const keys = `k2:${'n'.repeat(40)},k1:${'o'.repeat(40)}`;

  it('mints a token the APIs accept: first key and its kid, iss, aud, iat; keeps --institution', async () => {
    const result = mint(['--sub', 'h1', '--role', 'hospital', '--institution', '1'], { JWT_KEYS: keys });
    expect(result.status, result.stderr).toBe(0);
    const token = result.stdout.trim();
    expect(decodeProtectedHeader(token).kid).toBe('k2');
    const jwt = jwtSettingsOf({ JWT_SECRET: DEV_JWT_SECRET, JWT_KEYS: keys });
    expect(await verifyToken(token, jwt)).toEqual({ sub: 'h1', role: 'hospital', institutionId: '1' });
  });

  it('refuses an --expires past JWT_MAX_TTL_SECONDS', () => {
    const result = mint(['--sub', 'p1', '--role', 'patient', '--expires', '100y']);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/exceeds the maximum of 86400 s/);
    expect(result.stdout).toBe('');
  });
});
