import { shutdownTelemetry } from './context.ts';
import type { Logger } from './logger.ts';

const describe = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * Composition roots only (main.ts): on SIGTERM/SIGINT, or `shutdown()`, stops the process's
 * handle once, then exits with `code`. Past `timeoutMs` (default 20 s), or on a second signal, it
 * gives up and exits 1 at once.
 */
export function exitOnSignals(opts: { logger: Logger; stop: () => Promise<void>; timeoutMs?: number }): {
  shutdown: (reason: string, code?: number) => Promise<void>;
} {
  let stopping = false;
  const shutdown = async (reason: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    opts.logger.info({ reason }, 'shutting down');
    const timer = setTimeout(() => {
      opts.logger.error('shutdown took too long: exiting');
      process.exit(1);
    }, opts.timeoutMs ?? 20_000);
    timer.unref();
    try {
      await opts.stop();
    } catch (err) {
      opts.logger.error({ err: describe(err) }, 'error during shutdown');
      code = code || 1;
    }
    opts.logger.info('stopped');
    await shutdownTelemetry(); // the spans still buffered go out before the exit
    process.exit(code);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      opts.logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    void shutdown(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return { shutdown };
}
