import { describe, expect, it } from 'vitest';
import { listenOverflows, listenOverflowsOf } from '../../bench/listen-drops.ts';

const NETSTAT = [
  'TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows ListenDrops TCPSynRetrans',
  'TcpExt: 0 0 6360 6360 2329',
  'IpExt: InNoRoutes ListenOverflows',
  'IpExt: 0 99',
  '',
].join('\n');

describe('listen drops (bench/listen-drops.ts)', () => {
  it('given /proc/net/netstat, then it reads TcpExt ListenOverflows, not a same-named field of another group', () => {
    expect(listenOverflowsOf(NETSTAT)).toBe(6360);
  });

  it('given a text without TcpExt, then it throws rather than reading 0', () => {
    expect(() => listenOverflowsOf('IpExt: InNoRoutes\nIpExt: 0\n')).toThrow(/ListenOverflows/);
  });

  it('reads this host’s counter: a whole number', () => {
    expect(Number.isInteger(listenOverflows())).toBe(true);
  });
});
