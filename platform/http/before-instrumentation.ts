import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/**
 * Lets `answer` take each request as `server` emits it, ahead of whatever wraps
 * `Server.prototype.emit`: the server span of platform/http-server-span.ts (a sampling decision, a
 * span and a context per request). The http instrumentation that wrapped it before ran even a
 * request its hook skipped in a suppressed context and bound its emitters (a sixth of a cache
 * hit's CPU time under the mixed benchmark, bench/results/query-mix.md). A request `answer` takes
 * (returns true for) gets no span; everything else is emitted as before, traced as before. Later
 * calls run first.
 */
export function answerBeforeInstrumentation(
  server: Server,
  answer: (req: IncomingMessage, res: ServerResponse) => boolean,
): void {
  const emit = server.emit.bind(server) as (event: string | symbol, ...args: unknown[]) => boolean;
  server.emit = ((event: string | symbol, ...args: unknown[]): boolean =>
    (event === 'request' && answer(args[0] as IncomingMessage, args[1] as ServerResponse)) ||
    emit(event, ...args)) as Server['emit'];
}
