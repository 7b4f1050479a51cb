/**
 * Rebuilds a read model from the start of the event log into a NEW version, then switches
 * readers (and the live projector) to it atomically.
 *
 *   npm run projections:rebuild -- redis            # rm:v{N+1}:…, then SET rm:version N+1
 *   npm run projections:rebuild -- search           # appointments_v{N+1}, then swap the alias
 *   npm run projections:rebuild -- redis --keep-old # keep the old keyspace / index for a rollback
 *
 * Source: the event store's readAll, not Kafka — the store is the source of truth and keeps
 * every event, whatever the topic's retention. Protocol (docs/adr/0003):
 *   1. fill the new version from the beginning of the log up to its head;
 *   2. switch: SET the version pointer / swap the alias. Readers see the new version at once;
 *      the live projector writes there from its next batch on (it reads the pointer per batch;
 *      it writes search documents through the alias);
 *   3. wait until the live consumer group has committed past the topic's high watermarks taken
 *      at the switch: every batch that could still have been writing to the OLD version is done;
 *   4. catch up from the head of step 1 to the current head, writing to the new version. Writes
 *      are guarded (stream revision / external version) and the Redis writer fills gaps from the
 *      store, so racing the live projector is harmless;
 *   5. drop the old version unless --keep-old.
 */
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { SingleBar, Presets } from 'cli-progress';
import { scanBatches, type RedisClient } from '../platform/redis.ts';
import type { Kafka } from 'kafkajs';
import type { Checkpoint, EventStore } from '../platform/event-store/event-store.ts';
import type { Logger } from '../platform/logger.ts';
import type { Queryable } from '../platform/pg.ts';
import type { SearchEngine } from '../platform/search/index.ts';
import { auditOperatorAction } from '../platform/audit.ts';
import { loadConfig } from '../platform/config.ts';
import { patientVault, type ProjectorPatients } from '../platform/patient-vault.ts';
import { groupIdOf, type ProjectionsConfig } from './config.ts';
import { epochKey, keyspace, versionKey } from '../read-models/bookings.ts';
import { envelopeOf } from './relay/event-message.ts';
import { relayLag } from './relay/relay.ts';
import { consumerGroupLag, highWatermarks } from './runtime/lag.ts';
import { appointmentsIndexDefinition } from './search/appointments-model.ts';
import { ensureAppointmentsIndex, nextAppointmentsIndex, redisWriter, searchWriter } from './wiring.ts';

export interface RebuildDeps {
  store: Pick<EventStore<unknown>, 'readAll' | 'readStream'>;
  pool: Queryable;
  kafka: Kafka;
  config: ProjectionsConfig;
  logger: Logger;
  /** Start after this checkpoint instead of the beginning (tests on a shared database). */
  from?: Checkpoint;
  batchSize?: number;
  keepOld?: boolean;
  /** How long to wait for the live group to pass the switch point (default 30 s). */
  liveWaitMs?: number;
  onProgress?: (p: { phase: 'fill' | 'catch-up'; done: number; total: number }) => void;
  /** The patient vault (default: over `pool`, with this process's PATIENT_KEK). */
  patients?: ProjectorPatients;
}

const patientsOf = (deps: RebuildDeps): ProjectorPatients =>
  deps.patients ?? patientVault(deps.pool, loadConfig());

export interface RebuildResult {
  target: string;
  previous: string | undefined;
  events: number;
  caughtUp: number;
  seconds: number;
}

type Sink = (events: Awaited<ReturnType<RebuildDeps['store']['readAll']>>['events']) => Promise<void>;

async function drain(
  deps: RebuildDeps,
  from: Checkpoint | undefined,
  sink: Sink,
  phase: 'fill' | 'catch-up',
): Promise<{ checkpoint: Checkpoint | undefined; events: number }> {
  const total = await relayLag(deps.pool, from, 100_000_000);
  let checkpoint = from;
  let done = 0;
  deps.onProgress?.({ phase, done, total });
  for (;;) {
    const batch = await deps.store.readAll(checkpoint, deps.batchSize ?? 1000);
    if (batch.events.length === 0) break;
    await sink(batch.events);
    checkpoint = batch.checkpoint;
    done += batch.events.length;
    deps.onProgress?.({ phase, done, total: Math.max(total, done) });
  }
  return { checkpoint, events: done };
}

/** Step 3: the live group has committed past the high watermarks at the switch (or nobody is consuming). */
async function waitForLiveGroup(deps: RebuildDeps, projector: 'redis' | 'search'): Promise<void> {
  const admin = deps.kafka.admin();
  await admin.connect();
  try {
    const topic = deps.config.EVENTS_TOPIC;
    const groupId = groupIdOf(deps.config, projector);
    // No topic (a new cluster, or one emptied after a restore: docs/operations): nothing in flight.
    if (!(await admin.listTopics()).includes(topic)) {
      deps.logger.info({ topic }, 'events topic absent: no live group can be writing');
      return;
    }
    const marks = await highWatermarks(admin, [topic]);
    const deadline = Date.now() + (deps.liveWaitMs ?? 30_000);
    const description = await admin.describeGroups([groupId]);
    if ((description.groups[0]?.members.length ?? 0) === 0) {
      deps.logger.info({ groupId }, 'live group has no members: nothing in flight');
      return;
    }
    for (;;) {
      const { partitions } = await consumerGroupLag(admin, groupId, [topic]);
      const behind = partitions.filter(
        (p) => (p.committed ?? 0) < (marks.get(`${topic}:${p.partition}`) ?? 0),
      );
      if (behind.length === 0) return;
      if (Date.now() > deadline) {
        deps.logger.warn(
          { groupId, behind: behind.length },
          'live group still behind the switch point: catching up anyway',
        );
        return;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await admin.disconnect();
  }
}

/** Every master's keys (Redis Cluster): the read model's keys share one slot, so one UNLINK per batch. */
async function deleteByPattern(redis: RedisClient, pattern: string): Promise<number> {
  let deleted = 0;
  for await (const keys of scanBatches(redis, pattern)) deleted += await redis.unlink(...keys);
  return deleted;
}

export async function rebuildRedis(deps: RebuildDeps & { redis: RedisClient }): Promise<RebuildResult> {
  const started = Date.now();
  const root = deps.config.READ_MODEL_PREFIX;
  const writer = redisWriter({
    redis: deps.redis,
    store: deps.store,
    config: deps.config,
    patients: patientsOf(deps),
    logger: deps.logger,
  });
  const live = await writer.liveVersion();
  const target = live + 1;
  const prefix = keyspace(root, target).prefix;
  const stale = await deleteByPattern(deps.redis, `${prefix}:*`);
  if (stale)
    deps.logger.warn({ prefix, keys: stale }, 'removed the leftovers of an earlier, unfinished rebuild');

  const sink: Sink = async (events) => {
    await writer.write(
      events.map((e) => ({ envelope: envelopeOf(e) })),
      { version: target },
    );
  };
  const filled = await drain(deps, deps.from, sink, 'fill');
  // The new version holds the whole log up to the fill point, and the catch-up and the live group
  // cover the rest: the keyspace is whole again, so the epoch marker goes with the switch (the live
  // writer, held by a missing marker after a flush, resumes into the new version).
  await deps.redis.multi().set(versionKey(root), String(target)).set(epochKey(root), randomUUID()).exec();
  deps.logger.info({ from: live, to: target }, 'switched the read-model version');
  await waitForLiveGroup(deps, 'redis');
  const caught = await drain(deps, filled.checkpoint, sink, 'catch-up');
  if (!deps.keepOld) await deleteByPattern(deps.redis, `${keyspace(root, live).prefix}:*`);
  return {
    target: prefix,
    previous: keyspace(root, live).prefix,
    events: filled.events,
    caughtUp: caught.events,
    seconds: (Date.now() - started) / 1000,
  };
}

export async function rebuildSearch(deps: RebuildDeps & { engine: SearchEngine }): Promise<RebuildResult> {
  const started = Date.now();
  const alias = deps.config.APPOINTMENTS_ALIAS;
  const previous = await ensureAppointmentsIndex(deps.engine, alias);
  const target = await nextAppointmentsIndex(deps.engine, alias);
  await deps.engine.createIndex(target, appointmentsIndexDefinition);
  const writer = searchWriter({
    engine: deps.engine,
    store: deps.store,
    catalog: deps.pool,
    config: deps.config,
    patients: patientsOf(deps),
    logger: deps.logger,
    target,
  });
  const sink: Sink = async (events) => {
    const result = await writer.write(events.map((e) => ({ envelope: envelopeOf(e) })));
    if (result.poison.length)
      deps.logger.warn({ poison: result.poison.length }, 'events skipped by the rebuild');
  };
  const filled = await drain(deps, deps.from, sink, 'fill');
  await deps.engine.refresh(target);
  await deps.engine.swapAlias(alias, target);
  deps.logger.info({ alias, from: previous, to: target }, 'swapped the alias');
  await waitForLiveGroup(deps, 'search');
  const caught = await drain(deps, filled.checkpoint, sink, 'catch-up');
  if (!deps.keepOld && previous !== target) await deps.engine.deleteIndex(previous);
  return {
    target,
    previous,
    events: filled.events,
    caughtUp: caught.events,
    seconds: (Date.now() - started) / 1000,
  };
}

/**
 * The audit entry of an operator's rebuild (`projections.rebuild`), recorded before it starts;
 * returns its trace id. The projections process's own rebuild after a lost keyspace is not an
 * admin action and is not recorded.
 */
export const auditRebuild = (
  pool: Queryable,
  what: 'redis' | 'search',
  config: Pick<ProjectionsConfig, 'READ_MODEL_PREFIX' | 'APPOINTMENTS_ALIAS'>,
  keepOld: boolean,
): Promise<string> =>
  auditOperatorAction(pool, {
    action: 'projections.rebuild',
    subject: {
      type: 'read_model',
      id: what === 'redis' ? config.READ_MODEL_PREFIX : config.APPOINTMENTS_ALIAS,
    },
    detail: { readModel: what, keepOld },
  });

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;

if (invokedDirectly) {
  const [
    { loadConfig },
    { loadProjectionsConfig },
    { createLogger },
    { createPool },
    { PgEventStore },
    kafkaMod,
  ] = await Promise.all([
    import('../platform/config.ts'),
    import('./config.ts'),
    import('../platform/logger.ts'),
    import('../platform/pg.ts'),
    import('../platform/event-store/pg-event-store.ts'),
    import('../platform/kafka.ts'),
  ]);
  const args = process.argv.slice(2);
  const what = args.find((a) => !a.startsWith('--'));
  if (what !== 'redis' && what !== 'search') {
    process.stderr.write('usage: npm run projections:rebuild -- redis|search [--keep-old]\n');
    process.exit(2);
  }
  const config = loadConfig();
  const pc = loadProjectionsConfig();
  const logger = createLogger('rebuild', config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL);
  const pool = createPool(config, { applicationName: 'projections-rebuild' });
  const store = new PgEventStore(pool);
  const kafka = kafkaMod.createKafka(config, logger, `${config.KAFKA_CLIENT_ID}-rebuild`);
  const bar = new SingleBar(
    {
      format: `rebuild ${what} {phase} |{bar}| {percentage}% | {value}/{total} events | ETA {eta_formatted}`,
    },
    Presets.shades_classic,
  );
  let phase = '';
  const deps: RebuildDeps = {
    store,
    pool,
    kafka,
    config: pc,
    logger,
    keepOld: args.includes('--keep-old'),
    onProgress: (p) => {
      if (p.phase !== phase) {
        if (phase) bar.stop();
        phase = p.phase;
        bar.start(p.total, p.done, { phase: p.phase.padEnd(8) });
      } else {
        bar.setTotal(p.total);
        bar.update(p.done, { phase: p.phase.padEnd(8) });
      }
    },
  };
  let exitCode = 0;
  try {
    const traceId = await auditRebuild(pool, what, pc, deps.keepOld ?? false);
    if (what === 'redis') {
      const { createRedis } = await import('../platform/redis.ts');
      const redis = createRedis(config, 'projections-rebuild');
      try {
        const result = await rebuildRedis({ ...deps, redis });
        bar.stop();
        process.stdout.write(`${JSON.stringify({ ...result, traceId })}\n`);
      } finally {
        redis.disconnect();
      }
    } else {
      const { searchFromConfig } = await import('../platform/search/index.ts');
      const engine = searchFromConfig(config);
      try {
        const result = await rebuildSearch({ ...deps, engine });
        bar.stop();
        process.stdout.write(`${JSON.stringify({ ...result, traceId })}\n`);
      } finally {
        await engine.close();
      }
    }
  } catch (err) {
    bar.stop();
    logger.error({ err: err instanceof Error ? err.message : String(err) }, 'rebuild failed');
    exitCode = 1;
  } finally {
    await pool.end();
  }
  process.exit(exitCode);
}
