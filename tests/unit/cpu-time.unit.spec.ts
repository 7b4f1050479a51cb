import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cpuTimeMs, cpuTimeOfProcessesNamedMs, statCpuMs } from '../../bench/cpu-time.ts';

const linux = process.platform === 'linux';
if (!linux) console.warn('cpu-time.unit.spec: skipped, /proc is Linux only');

describe.skipIf(!linux)('CPU time from /proc', () => {
  it('counts this process among the processes of its name, and grows as it works', () => {
    const comm = readFileSync('/proc/self/comm', 'utf8').trim();
    const own = cpuTimeMs(process.pid);
    const named = cpuTimeOfProcessesNamedMs(comm);
    expect(own).toBeGreaterThan(0);
    expect(named).toBeGreaterThanOrEqual(own);

    const until = Date.now() + 60;
    let spin = 0;
    while (Date.now() < until) spin += Math.sqrt(spin + 1);
    expect(spin).toBeGreaterThan(0);
    expect(cpuTimeOfProcessesNamedMs(comm)).toBeGreaterThan(named);
  });

  it('is 0 for a name no process has', () => {
    expect(cpuTimeOfProcessesNamedMs('no-such-process-name')).toBe(0);
  });
});

describe('a /proc/<pid>/stat line', () => {
  // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime …
  const line = '4973 (post gres) (x)) S 1 4973 4973 0 -1 4194560 100 200 0 0 46 208 39305 21906 20 0 1 0';

  it('reads utime + stime after a command name holding spaces and parentheses', () => {
    expect(statCpuMs(line)).toBe(((46 + 208) * 1000) / 100);
  });

  it('adds the cutime + cstime of reaped children when asked (the closed connections of a pool)', () => {
    expect(statCpuMs(line, { reapedChildren: true })).toBe(((46 + 208 + 39305 + 21906) * 1000) / 100);
  });
});
