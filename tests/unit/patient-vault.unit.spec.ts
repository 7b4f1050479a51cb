/**
 * The vault's cryptography (platform/patient-vault.ts), without PostgreSQL: sealing, opening,
 * tampering, key wrapping and the pseudonym. What a deleted key does to the rest is the e2e
 * test's (tests/int/patient-crypto.e2e.spec.ts).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../platform/config.ts';
import {
  DEV_PATIENT_KEK,
  openWith,
  parseKek,
  pseudonymOf,
  SealedValueError,
  sealWith,
  unwrapKey,
  wrapKey,
} from '../../platform/patient-vault.ts';

const key = randomBytes(32);
const ref = '6f1c1c4e-7a55-4d7c-9a53-0d8f4b0b7c11';

describe('sealing a patient identity (AES-256-GCM)', () => {
  it('round-trips, and never shows the plaintext', () => {
    const sealed = sealWith(key, ref, JSON.stringify({ patientId: 'patient-42' }));
    expect(sealed).toMatch(/^v1\.[\w-]+\.[\w-]*\.[\w-]+$/);
    expect(sealed).not.toContain('patient-42');
    expect(JSON.parse(openWith(key, ref, sealed))).toEqual({ patientId: 'patient-42' });
  });

  it('uses a fresh iv each time: the same identity seals differently', () => {
    expect(sealWith(key, ref, 'x')).not.toBe(sealWith(key, ref, 'x'));
  });

  it('detects tampering with the ciphertext, the tag, the reference it is bound to, or the key', () => {
    const sealed = sealWith(key, ref, 'patient-42');
    const [v, iv, ct, tag] = sealed.split('.') as [string, string, string, string];
    const flip = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
    for (const bad of [`${v}.${iv}.${flip(ct)}.${tag}`, `${v}.${iv}.${ct}.${flip(tag)}`]) {
      expect(() => openWith(key, ref, bad)).toThrow(SealedValueError);
    }
    expect(() => openWith(key, 'another-ref', sealed)).toThrow(SealedValueError);
    expect(() => openWith(randomBytes(32), ref, sealed)).toThrow(SealedValueError);
    expect(() => openWith(key, ref, 'not-sealed')).toThrow('not a sealed value');
  });
});

describe('data keys wrapped under the KEK', () => {
  it('unwrap to the same key, bound to their reference', () => {
    const kek = randomBytes(32);
    const wrapped = wrapKey(kek, ref, key);
    expect(unwrapKey(kek, ref, wrapped).equals(key)).toBe(true);
    expect(() => unwrapKey(kek, 'another-ref', wrapped)).toThrow();
    expect(() => unwrapKey(randomBytes(32), ref, wrapped)).toThrow();
  });

  it('the pseudonym derives from the data key: stable per key, unrelated across keys', () => {
    expect(pseudonymOf(key)).toMatch(/^[0-9a-f]{64}$/);
    expect(pseudonymOf(key)).toBe(pseudonymOf(Buffer.from(key)));
    expect(pseudonymOf(randomBytes(32))).not.toBe(pseudonymOf(key));
  });
});

describe('PATIENT_KEK', () => {
  it('is 32 bytes as hex or base64', () => {
    expect(parseKek('ab'.repeat(32))?.length).toBe(32);
    expect(parseKek(randomBytes(32).toString('base64'))?.length).toBe(32);
    expect(parseKek('too-short')).toBeUndefined();
    expect(parseKek(randomBytes(16).toString('base64'))).toBeUndefined();
  });

  it('has a development default that production refuses', () => {
    expect(parseConfig({}).ok).toBe(true);
    const prod = parseConfig({ NODE_ENV: 'production' });
    expect(prod.ok).toBe(false);
    expect(!prod.ok && prod.errors.join()).toContain('PATIENT_KEK');
    expect(parseConfig({ NODE_ENV: 'production', PATIENT_KEK: DEV_PATIENT_KEK }).ok).toBe(false);
    const jwt = { JWT_SECRET: 'p'.repeat(32) };
    expect(parseConfig({ NODE_ENV: 'production', ...jwt, PATIENT_KEK: 'cd'.repeat(32) }).ok).toBe(true);
    expect(parseConfig({ PATIENT_KEK: 'nope' }).ok).toBe(false);
  });
});
