import type { Command } from 'ioredis';
import type { RedisClient } from './redis.ts';

/**
 * A per-command deadline that a busy event loop does not trip. ioredis's own `commandTimeout` is
 * a plain timer, and after the loop was blocked for longer than the budget (a GC pause, a CPU
 * burst on a loaded host) the timers phase runs before the poll phase reads the socket: a reply
 * that arrived in time is rejected as "Command timed out". Measured with ioredis 5.11, an 80 ms
 * budget and a 150 ms synchronous block after each GET: 10 of 20 healthy GETs failed. In the
 * query API each such failure was a 503 (or a stale page) for a Redis that was answering.
 *
 * Here the timer, when it fires, waits one `setImmediate` (the check phase, after the poll phase
 * has read whatever arrived) and only then rejects a command that is still unanswered. A Redis
 * that really does not answer still fails within the budget plus one loop turn (docs/adr/0024).
 */
export function armLoopFairTimeouts(redis: RedisClient, timeoutMs: number): void {
  const send = redis.sendCommand.bind(redis) as (command: Command, ...rest: unknown[]) => unknown;
  const guarded = (command: Command, ...rest: unknown[]) => {
    const timer = setTimeout(() => {
      setImmediate(() => {
        if (!command.isResolved) command.reject(new Error('Command timed out'));
      });
    }, timeoutMs);
    const clear = () => clearTimeout(timer);
    command.promise.then(clear, clear);
    return send(command, ...rest);
  };
  (redis as unknown as { sendCommand: typeof guarded }).sendCommand = guarded;
}
