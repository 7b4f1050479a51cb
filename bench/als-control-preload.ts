/**
 * A control for `command-bench.ts --tracing --preload bench/als-control-preload.ts`: what the
 * context manager does per request, without OpenTelemetry — one AsyncLocalStorage, each request
 * emitted inside `run`. On Node 20 that turns on the async and promise hooks for every async
 * resource and promise of the process: the floor of any tracing that keeps a trace across awaits
 * with AsyncLocalStorage.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import http from 'node:http';

const als = new AsyncLocalStorage<{ request: unknown }>();
type Emit = (this: http.Server, event: string | symbol, ...args: unknown[]) => boolean;
const proto = http.Server.prototype as unknown as { emit: Emit };
const emit = proto.emit;
proto.emit = function emitInStore(this: http.Server, event, ...args) {
  if (event !== 'request') return emit.call(this, event, ...args);
  return als.run({ request: args[0] }, () => emit.call(this, event, ...args));
};
