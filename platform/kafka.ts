import { Kafka, logLevel, Partitioners, type Admin, type ITopicConfig, type LogEntry } from 'kafkajs';
import { createRequire } from 'node:module';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';

const levels: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

// Every producer here picks its partitioner explicitly (defaultPartitioner below); the warning is noise.
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

interface RequestQueueInternals {
  throttledUntil: number;
  pending: unknown[];
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

/**
 * kafkajs 2.2.4 re-arms a timer after every answer from a broker, even when no request waits
 * (tulios/kafkajs#1704, #1751): with no throttle `throttledUntil` is -1, the delay is about
 * -Date.now(), and Node runs it after 1 ms (Node 24 also prints a TimeoutNegativeWarning). So
 * every broker connection wakes its process each millisecond for as long as it lives: an idle
 * producer used 107–156 ms of CPU in 5 s, 13–20 ms with this fix (tests/int/kafka-smoke counts
 * the checks). The fix proposed upstream (#1768, not released; kafkajs has had no release since
 * 2.2.4) is applied here: no timer when nothing is pending and no throttle is in force. A request
 * that cannot be sent at once is pushed to `pending` and schedules its own check; an answer
 * checks the queue at once.
 */
function stopIdleRequestQueueTimers(): void {
  let RequestQueue: { prototype?: RequestQueueInternals } | undefined;
  try {
    RequestQueue = createRequire(import.meta.url)('kafkajs/src/network/requestQueue/index.js') as {
      prototype?: RequestQueueInternals;
    };
  } catch {
    return; // a kafkajs other than 2.2.x moved it: left as it is (tests/int/kafka-smoke fails then)
  }
  if (typeof RequestQueue?.prototype?.scheduleCheckPendingRequests !== 'function') return;
  const CHECK_PENDING_REQUESTS_INTERVAL = 10; // kafkajs's own
  RequestQueue.prototype.scheduleCheckPendingRequests = function (this: RequestQueueInternals) {
    if (this.throttleCheckTimeoutId) return;
    let scheduleAt = this.throttledUntil - Date.now();
    if (this.pending.length > 0) scheduleAt = scheduleAt > 0 ? scheduleAt : CHECK_PENDING_REQUESTS_INTERVAL;
    else if (scheduleAt <= 0) return;
    this.throttleCheckTimeoutId = setTimeout(() => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    }, scheduleAt);
  };
}
stopIdleRequestQueueTimers();

/** kafkajs with its logs routed through pino, so broker trouble lands in the service's JSON log. */
export function createKafka(
  config: Pick<Config, 'KAFKA_BROKERS' | 'KAFKA_CLIENT_ID'>,
  logger?: Logger,
  clientId = config.KAFKA_CLIENT_ID,
): Kafka {
  return new Kafka({
    clientId,
    brokers: config.KAFKA_BROKERS,
    connectionTimeout: 3000,
    // kafkajs backs off up to 30 s between attempts (and between consumer restarts): after a
    // 40 s broker outage a consumer slept 15.7 s past the broker's return (chaos run 3). Capped
    // at 2 s, the read side resumes within seconds of Kafka answering again.
    retry: { initialRetryTime: 300, maxRetryTime: 2_000, retries: 5 },
    logLevel: logger ? logLevel.WARN : logLevel.NOTHING,
    logCreator:
      () =>
      ({ level, namespace, log }: LogEntry) => {
        const { message, ...extra } = log;
        logger?.[levels[level] ?? 'info']({ kafka: namespace, ...extra }, message);
      },
  });
}

/** The partitioner kafkajs recommends since 2.0 (murmur2, the Java client's): same key, same partition. */
export const defaultPartitioner = Partitioners.DefaultPartitioner;

/** Creates missing topics with explicit partition counts; never relies on broker auto-creation. */
export async function ensureTopics(admin: Admin, topics: ITopicConfig[]): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t.topic));
  if (missing.length > 0) await createTopicsWithLeaders(admin, missing);
  return missing.map((t) => t.topic);
}

/** What a broker answers for a topic it has created but not yet published everywhere. */
const NOT_YET = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);
const errorType = (err: unknown): string | undefined => {
  const e = err as { type?: string; cause?: { type?: string } } | null;
  return e?.type ?? e?.cause?.type;
};

/**
 * Creates topics (one that already exists is no error) and resolves once every partition has a
 * leader. kafkajs's own wait (`waitForLeaders`) gives up at the first UNKNOWN_TOPIC_OR_PARTITION,
 * which a KRaft broker answers for a moment after its controller created the topic (KAFKA-15780):
 * a fresh-machine `npm test` failed on it (2026-12-02). Here that answer means "not yet".
 */
export async function createTopicsWithLeaders(
  admin: Admin,
  topics: ITopicConfig[],
  timeoutMs = 30_000,
): Promise<void> {
  await admin.createTopics({ topics, waitForLeaders: false });
  const names = topics.map((t) => t.topic);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { topics: found } = await admin.fetchTopicMetadata({ topics: names });
      const led = found.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0));
      if (found.length === names.length && led) return;
    } catch (err) {
      if (!NOT_YET.has(errorType(err) ?? '')) throw err;
    }
    if (Date.now() > deadline) {
      throw new Error(`topics ${names.join(', ')}: not every partition had a leader within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
