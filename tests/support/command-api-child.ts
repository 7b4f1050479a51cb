/**
 * Test-only entry of the command API, for the deadline kill -9 test: `command-api/main.ts` plus two
 * seams, never production settings:
 *   COMMAND_API_TEST_CLOCK_OFFSET_MS       the instance's clock runs this far ahead (holds fall due)
 *   COMMAND_API_TEST_BEFORE_FIRE_DELAY_MS  after the poller claimed a deadline, before its command
 *                                          (widens the window a SIGKILL should land in)
 * Logs `"command API listening"` once it serves.
 */
import { startCommandApi } from '../../command-api/start.ts';
import { loadConfig } from '../../platform/config.ts';
import { exitOnSignals } from '../../platform/exit-on-signals.ts';
import { createLogger } from '../../platform/logger.ts';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const offsetMs = Number(process.env.COMMAND_API_TEST_CLOCK_OFFSET_MS ?? 0) || 0;
const delayMs = Number(process.env.COMMAND_API_TEST_BEFORE_FIRE_DELAY_MS ?? 0) || 0;

const config = loadConfig();
const logger = createLogger('command-api-child', config.LOG_LEVEL);
const handle = await startCommandApi({
  config,
  logger,
  migrate: false,
  port: 0,
  adminPort: 0,
  app: {
    clock: () => new Date(Date.now() + offsetMs),
    ...(delayMs > 0 ? { deadlineBeforeFire: () => sleep(delayMs) } : {}),
  },
});
logger.info({ port: handle.port, pid: process.pid }, 'command API listening');
exitOnSignals({ logger, stop: () => handle.stop(1_000) });
