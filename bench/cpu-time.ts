/**
 * CPU time from /proc (Linux; NaN elsewhere), for benchmarks that share two cores with their load
 * generator and engines: who used the CPU during a run says more than a wall-clock profile.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: 100 on every Linux build this runs on (getconf CLK_TCK). */
const CLOCK_TICKS = 100;

/**
 * A process's CPU time so far (user + system), ms. CPU per command, not the wall-clock profile, is
 * the honest cost on a shared host: a profile's samples include time the process sat descheduled.
 */
export function cpuTimeMs(pid: number | undefined): number {
  try {
    return statCpuMs(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return Number.NaN;
  }
}

/** utime + stime of one `/proc/<pid>/stat` line, with its reaped children's cutime + cstime if asked, ms. */
export function statCpuMs(stat: string, opts: { reapedChildren?: boolean } = {}): number {
  // Fields after the command name (which may hold spaces): utime, stime, cutime and cstime are
  // fields 14 to 17.
  const f = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  const own = (f[11] ?? 0) + (f[12] ?? 0);
  const children = opts.reapedChildren ? (f[13] ?? 0) + (f[14] ?? 0) : 0;
  return ((own + children) * 1000) / CLOCK_TICKS;
}

/**
 * CPU time so far of every process named `comm` on this host (e.g. `postgres`: the postmaster, the
 * backends, the WAL writer, the checkpointer), ms; NaN when /proc cannot be read. It counts the
 * children they reaped too (cutime + cstime): a backend that exits between two readings (a pool
 * closing an idle connection) leaves its time in the postmaster's count instead of taking it out of
 * the sum. PostgreSQL on the same host is half of a booking's cost, and a per-process reading
 * misses it.
 */
export function cpuTimeOfProcessesNamedMs(comm: string): number {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return Number.NaN;
  }
  let total = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) === comm)
        total += statCpuMs(stat, { reapedChildren: true });
    } catch {
      // Gone since the listing: its parent counts it once reaped.
    }
  }
  return total;
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
