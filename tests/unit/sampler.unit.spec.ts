import { afterEach, describe, expect, it } from 'vitest';
import { startSampler, type Sampler } from '../../platform/sampler.ts';

const samplers: Sampler<number>[] = [];
afterEach(() => {
  for (const s of samplers.splice(0)) s.stop();
});
const sampler = (read: () => Promise<number>, timeoutMs = 50) => {
  const s = startSampler({ name: 'lag', read, intervalMs: 60_000, timeoutMs });
  samplers.push(s);
  return s;
};

describe('background sampler', () => {
  it('keeps the last value and its age; check passes while fresh', async () => {
    const s = sampler(() => Promise.resolve(7));
    await s.sampleNow();
    expect(s.lastGood()?.value).toBe(7);
    expect(s.lastGood()?.ageMs).toBeLessThan(1000);
    expect(() => s.check()).not.toThrow();
    expect(s.report()).toMatchObject({ value: 7 });
  });

  it('a failed sample fails the check and keeps the last good value', async () => {
    let n = 0;
    const s = sampler(() => (n++ === 0 ? Promise.resolve(3) : Promise.reject(new Error('broker down'))));
    await s.sampleNow();
    await s.sampleNow();
    expect(() => s.check()).toThrow('broker down');
    expect(s.report()).toMatchObject({ value: 3, error: 'broker down' });
  });

  it('a sample that does not answer fails after its timeout, and no second one piles up', async () => {
    let calls = 0;
    const s = sampler(() => {
      calls += 1;
      return new Promise<number>(() => undefined);
    }, 30);
    await s.sampleNow();
    expect(() => s.check()).toThrow(/no answer/);
    await s.sampleNow();
    expect(calls).toBe(1);
  });
});
