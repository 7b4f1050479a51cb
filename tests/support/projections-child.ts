/**
 * Test-only entry of the projections process, for the crash tests: `projections/main.ts` plus two
 * delays that widen the windows a SIGKILL should land in. Both are test seams of
 * `startProjections`, never production settings:
 *   RELAY_TEST_AFTER_SEND_DELAY_MS         after Kafka acked a relay batch, before its checkpoint
 *   PROJECTIONS_TEST_AFTER_WRITE_DELAY_MS  after a projector's writes, before the offset commit
 */
import { loadConfig } from '../../platform/config.ts';
import { createLogger } from '../../platform/logger.ts';
import { exitOnSignals } from '../../platform/exit-on-signals.ts';
import { loadProjectionsConfig } from '../../projections/config.ts';
import type { BatchHandler } from '../../projections/runtime/projector-runtime.ts';
import { startProjections, type ProjectionsHooks } from '../../projections/start.ts';
import { whenStarted } from '../../projections/startup.ts';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const delayOf = (name: string): number => Number(process.env[name] ?? 0) || 0;

function delayHooks(afterSendMs: number, afterWriteMs: number): ProjectionsHooks {
  return {
    ...(afterSendMs > 0 ? { relayAfterSend: () => sleep(afterSendMs) } : {}),
    ...(afterWriteMs > 0
      ? {
          wrapHandler:
            (_name, handler): BatchHandler =>
            async (messages, ctx) => {
              const outcome = await handler(messages, ctx);
              await sleep(afterWriteMs);
              return outcome;
            },
        }
      : {}),
  };
}

const platform = loadConfig();
const projections = loadProjectionsConfig();
const logger = createLogger('projections', platform.LOG_LEVEL);
const handle = await startProjections(
  { platform, projections },
  {
    logger,
    hooks: delayHooks(
      delayOf('RELAY_TEST_AFTER_SEND_DELAY_MS'),
      delayOf('PROJECTIONS_TEST_AFTER_WRITE_DELAY_MS'),
    ),
  },
);
exitOnSignals({ logger, stop: handle.stop });
whenStarted(handle.ready, () => logger.info({ port: handle.port }, 'projections ready'));
