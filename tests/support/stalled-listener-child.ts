/**
 * A listener opened by platform/http/server.ts `listen` whose event loop then stalls: for
 * `stallMs` nothing is accepted, so the kernel's accept queue alone holds new connections (what a
 * loop saturated by overload looks like to a client). Prints its port, then stalls, then exits.
 *
 *   tsx tests/support/stalled-listener-child.ts <listenBacklog> <stallMs>
 */
import { boundPort, DEFAULT_CONNECTION_LIMITS, listen } from '../../platform/http/server.ts';

const [backlog, stallMs] = process.argv.slice(2).map(Number) as [number, number];
const server = await listen((_req, res) => res.end(), 0, '127.0.0.1', {
  ...DEFAULT_CONNECTION_LIMITS,
  listenBacklog: backlog,
});
// Written synchronously (a pipe on Linux), so the stall below starts after the parent can connect.
process.stdout.write(`${boundPort(server)}\n`);
const until = performance.now() + stallMs;
while (performance.now() < until) {
  // Stalled on purpose: no accept, no I/O.
}
process.exit(0);
