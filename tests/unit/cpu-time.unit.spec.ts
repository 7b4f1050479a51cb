import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cpuTimeMs, cpuTimeOfCommandMs } from '../../bench/cpu-time.ts';

const linux = process.platform === 'linux';
if (!linux) console.warn('cpu-time.unit.spec: skipped, /proc is Linux only');

describe.skipIf(!linux)('CPU time from /proc', () => {
  it('counts this process among the processes of its name, and grows as it works', () => {
    const comm = readFileSync('/proc/self/comm', 'utf8').trim();
    const own = cpuTimeMs(process.pid);
    const named = cpuTimeOfCommandMs(comm);
    expect(own).toBeGreaterThan(0);
    expect(named).toBeGreaterThanOrEqual(own);

    const until = Date.now() + 60;
    let spin = 0;
    while (Date.now() < until) spin += Math.sqrt(spin + 1);
    expect(spin).toBeGreaterThan(0);
    expect(cpuTimeOfCommandMs(comm)).toBeGreaterThan(named);
  });

  it('is 0 for a name no process has', () => {
    expect(cpuTimeOfCommandMs('no-such-process-name')).toBe(0);
  });
});
