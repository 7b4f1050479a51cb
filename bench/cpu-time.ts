/**
 * CPU time from /proc (Linux; NaN elsewhere), for benchmarks that share two cores with their load
 * generator and engines: who used the CPU during a run says more than a wall-clock profile.
 */
import { readFileSync } from 'node:fs';

/** USER_HZ: 100 on every Linux build this runs on (getconf CLK_TCK). */
const CLOCK_TICKS = 100;

/**
 * A process's CPU time so far (user + system), ms. CPU per command, not the wall-clock profile, is
 * the honest cost on a shared host: a profile's samples include time the process sat descheduled.
 */
export function cpuTimeMs(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

/** The host's idle CPU time so far over all cores (idle + iowait), ms. */
export function hostIdleMs(): number {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.split(/\s+/).slice(1).map(Number);
    return (((cpu[3] ?? 0) + (cpu[4] ?? 0)) * 1000) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

/** Cores used (or idle) over a span: CPU ms ÷ wall ms. */
export const cores = (cpuMs: number, wallMs: number): number => cpuMs / wallMs;
