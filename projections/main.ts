/**
 * Composition root of the projections process: the relay (event store → Kafka) and the Redis and
 * search projectors (Kafka → read models), with /healthz, /readyz and /metrics on PORT or
 * PROJECTIONS_PORT (default 3003) and a graceful shutdown on SIGTERM/SIGINT. The wiring is
 * start.ts's `startProjections`, shared with the tests and the benchmark.
 *
 *   npm run projections                                  # everything
 *   PROJECTIONS_COMPONENTS=relay npm run projections     # just the relay
 */
import { loadConfig } from '../platform/config.ts';
import { createRegistry } from '../platform/http/metrics.ts';
import { createLogger } from '../platform/logger.ts';
import { exitOnSignals } from '../platform/exit-on-signals.ts';
import { loadProjectionsConfig } from './config.ts';
import { startProjections } from './start.ts';
import { whenStarted } from './startup.ts';

const platform = loadConfig();
const projections = loadProjectionsConfig();
const logger = createLogger('projections', platform.LOG_LEVEL);
const registry = createRegistry({ defaultMetrics: true, service: 'projections' });

const handle = await startProjections({ platform, projections }, { logger, registry }).catch(
  (err: unknown) => {
    logger.fatal({ err: err instanceof Error ? err.message : String(err) }, 'projections failed to start');
    process.exit(1);
  },
);
const { shutdown } = exitOnSignals({ logger, stop: handle.stop });
whenStarted(handle.ready, () =>
  logger.info(
    { port: handle.port, components: projections.PROJECTIONS_COMPONENTS, topic: projections.EVENTS_TOPIC },
    'projections ready',
  ),
);
// A part that stopped for good: exit so the supervisor restarts the process (/healthz says so too).
void handle.failed.then((err) => {
  logger.fatal({ err: err.message }, 'a projections part stopped for good');
  void shutdown('crash', 1);
});
