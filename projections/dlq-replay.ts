/**
 * Replays a projector's dead letters once the cause is fixed (see runtime/dlq-replay.ts).
 *
 *   npm run dlq:replay -- --projector redis
 *   npm run dlq:replay -- --projector search
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../platform/config.ts';
import { PgEventStore } from '../platform/event-store/pg-event-store.ts';
import { createKafka } from '../platform/kafka.ts';
import { createLogger } from '../platform/logger.ts';
import { patientVault } from '../platform/patient-vault.ts';
import { createPool } from '../platform/pg.ts';
import { createRedis } from '../platform/redis.ts';
import { searchFromConfig } from '../platform/search/index.ts';
import { groupIdOf, loadProjectionsConfig } from './config.ts';
import { auditDeadLetterReplay, replayDeadLetters } from './runtime/dlq-replay.ts';
import { ensureAppointmentsIndex, handlerFor, projectorNames, redisWriter, searchWriter } from './wiring.ts';

const { values } = parseArgs({ options: { projector: { type: 'string' } } });
const projector = values.projector;
if (projector !== 'redis' && projector !== 'search') {
  process.stderr.write(`usage: npm run dlq:replay -- --projector ${projectorNames.join('|')}\n`);
  process.exit(2);
}

const config = loadConfig();
const pc = loadProjectionsConfig();
const logger = createLogger('dlq-replay', config.LOG_LEVEL);
const pool = createPool(config, { applicationName: 'dlq-replay' });
const store = new PgEventStore(pool);
const kafka = createKafka(config, logger, `${config.KAFKA_CLIENT_ID}-dlq-replay`);
const redis = projector === 'redis' ? createRedis(config, 'dlq-replay') : undefined;
const engine = projector === 'search' ? searchFromConfig(config) : undefined;
let exitCode = 0;
try {
  const traceId = await auditDeadLetterReplay(pool, { dlqTopic: pc.EVENTS_DLQ_TOPIC, projector });
  let writer;
  const patients = patientVault(pool, config);
  if (redis) writer = redisWriter({ redis, store, config: pc, patients, logger });
  else {
    await ensureAppointmentsIndex(engine!, pc.APPOINTMENTS_ALIAS);
    writer = searchWriter({ engine: engine!, store, catalog: pool, config: pc, patients, logger });
  }
  const result = await replayDeadLetters({
    kafka,
    dlqTopic: pc.EVENTS_DLQ_TOPIC,
    projector,
    groupId: `${groupIdOf(pc, projector)}.dlq-replay`,
    handleBatch: handlerFor(writer),
    logger,
  });
  process.stdout.write(`${JSON.stringify({ projector, ...result, traceId })}\n`);
  if (result.failedAgain > 0) exitCode = 3;
} catch (err) {
  logger.error({ err: err instanceof Error ? err.message : String(err) }, 'replay failed');
  exitCode = 1;
} finally {
  redis?.disconnect();
  await engine?.close();
  await pool.end();
}
process.exit(exitCode);
