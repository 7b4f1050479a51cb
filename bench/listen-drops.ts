/**
 * The kernel's count of connections dropped because a listener's accept queue was full
 * (TcpExt ListenOverflows in /proc/net/netstat): host-wide, since boot. Each drop is a SYN the
 * client retransmits after 1 s, then 3 s, so a handful show up as seconds of latency before the
 * server ever sees the request.
 */
import { readFileSync } from 'node:fs';

/** ListenOverflows from the text of /proc/net/netstat (pairs of a header line and a value line per group). */
export function listenOverflowsOf(netstat: string): number {
  const lines = netstat.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    const names = lines[i]!.split(/\s+/);
    const values = lines[i + 1]!.split(/\s+/);
    if (names[0] !== 'TcpExt:' || values[0] !== 'TcpExt:') continue;
    const at = names.indexOf('ListenOverflows');
    if (at > 0) return Number(values[at]);
  }
  throw new Error('no TcpExt ListenOverflows in /proc/net/netstat');
}

export const listenOverflows = (): number => listenOverflowsOf(readFileSync('/proc/net/netstat', 'utf8'));
