import { z } from 'zod';
import { DEV_PATIENT_KEK, parseKek } from './patient-vault.ts';

const hostPort = /^[A-Za-z0-9.-]+:\d{1,5}$/;

const port = (fallback: number) => z.coerce.number().int().min(1).max(65535).default(fallback);

const brokerList = z
  .string()
  .default('127.0.0.1:9092')
  .transform((s) =>
    s
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean),
  )
  .refine((list) => list.length > 0 && list.every((b) => hostPort.test(b)), {
    message: 'expected a comma-separated list of host:port, e.g. 127.0.0.1:9092',
  });

const url = (fallback: string, protocols: readonly string[]) =>
  z
    .string()
    .default(fallback)
    .refine(
      (s) => {
        try {
          return protocols.includes(new URL(s).protocol);
        } catch {
          return false;
        }
      },
      { message: `expected a URL with scheme ${protocols.join(' or ')}` },
    );

/** Several http(s) URLs, comma-separated (the nodes of one cluster), or unset. */
const urlList = z
  .string()
  .optional()
  .transform((s) =>
    s === undefined
      ? undefined
      : s
          .split(',')
          .map((u) => u.trim())
          .filter(Boolean),
  )
  .refine(
    (list) =>
      list === undefined ||
      list.every((u) => {
        try {
          return ['http:', 'https:'].includes(new URL(u).protocol);
        } catch {
          return false;
        }
      }),
    { message: 'expected comma-separated http(s) URLs, e.g. http://127.0.0.1:9200,http://127.0.0.1:9201' },
  );

const optionalUrl = z
  .string()
  .optional()
  .transform((s) => (s === '' ? undefined : s))
  .refine(
    (s) => {
      if (s === undefined) return true;
      try {
        return ['http:', 'https:'].includes(new URL(s).protocol);
      } catch {
        return false;
      }
    },
    { message: 'expected an http(s) URL' },
  );

/** An EventStoreDB/KurrentDB connection string (`esdb://host:2113?tls=false`), or unset. */
const esdbUrl = z
  .string()
  .optional()
  .refine(
    (s) => {
      if (s === undefined) return true;
      try {
        return ['esdb:', 'esdb+discover:'].includes(new URL(s).protocol);
      } catch {
        return false;
      }
    },
    {
      message:
        'expected an esdb:// or esdb+discover:// connection string, e.g. esdb://127.0.0.1:2113?tls=false',
    },
  );

export const DEV_JWT_SECRET = 'local-dev-only-secret-change-me-0123456789';

/** Bytes an HS256 secret needs (RFC 7518 §3.2: at least the hash size, 256 bits). */
export const MIN_JWT_SECRET_BYTES = 32;

export interface JwtKey {
  kid: string;
  secret: string;
}

/**
 * JWT_KEYS: `kid1:secret1,kid2:secret2` (the first signs, all verify; a kid is 1-64 of
 * `[A-Za-z0-9._-]`, a secret runs to the next comma). Returns the keys or why the value is invalid.
 */
export function parseJwtKeys(value: string): JwtKey[] | string {
  const keys: JwtKey[] = [];
  for (const entry of value.split(',')) {
    const at = entry.indexOf(':');
    const kid = entry.slice(0, at).trim();
    const secret = entry.slice(at + 1).trim();
    if (at < 0 || !/^[A-Za-z0-9._-]{1,64}$/.test(kid) || secret === '') {
      return 'expected kid:secret pairs separated by commas, e.g. k2:<secret>,k1:<old secret>';
    }
    if (keys.some((k) => k.kid === kid)) return `kid ${kid} appears twice`;
    keys.push({ kid, secret });
  }
  return keys;
}

const secretBytes = (secret: string): number => Buffer.byteLength(secret, 'utf8');

/**
 * Every environment variable the platform reads, with the default that points at the
 * local engines (`npm run engines -- up`). The README's configuration table mirrors this.
 */
export const configSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Unset: human-readable on a terminal in development, JSON otherwise (platform/logger.ts). */
    LOG_FORMAT: z.enum(['pretty', 'json']).optional(),
    DATABASE_URL: url('postgres://booking:booking@127.0.0.1:5432/booking', ['postgres:', 'postgresql:']),
    PG_POOL_MAX: z.coerce.number().int().min(1).max(500).default(20),
    REDIS_URL: url('redis://127.0.0.1:6379', ['redis:', 'rediss:']),
    /**
     * Redis Cluster seed nodes, comma-separated host:port (docs/adr/0020). Set: every Redis client
     * is a cluster client (REDIS_URL's password and TLS still apply); unset: one Redis at REDIS_URL.
     */
    REDIS_CLUSTER_NODES: z
      .string()
      .optional()
      .transform((s) =>
        (s ?? '')
          .split(',')
          .map((n) => n.trim())
          .filter(Boolean),
      )
      .refine((list) => list.every((n) => hostPort.test(n)), {
        message: 'expected a comma-separated list of host:port, e.g. 127.0.0.1:7000,127.0.0.1:7001',
      }),
    KAFKA_BROKERS: brokerList,
    KAFKA_CLIENT_ID: z.string().min(1).default('booking-platform'),
    KAFKA_CONNECT_URL: url('http://127.0.0.1:8083', ['http:', 'https:']),
    SEARCH_ENGINE: z.enum(['opensearch', 'elasticsearch']).default('opensearch'),
    SEARCH_URL: url('http://127.0.0.1:9200', ['http:', 'https:']),
    /** Several nodes of one search cluster; replaces SEARCH_URL for the services when set (ADR 0022). */
    SEARCH_URLS: urlList,
    /** Index layout of every index the platform creates (platform/search/index-layout.ts); unset: the definition's. */
    SEARCH_SHARDS: z.coerce.number().int().min(1).max(1024).optional(),
    /** `auto`: one replica when a second node is there, none on one node (auto_expand_replicas 0-1). */
    SEARCH_REPLICAS: z.union([z.literal('auto'), z.coerce.number().int().min(0).max(16)]).default('auto'),
    SEARCH_REFRESH_INTERVAL: z
      .string()
      .regex(/^(-1|\d+(ms|s|m|h))$/, 'expected a time like 1s, 500ms, 30s, or -1 (off)')
      .optional(),
    /** Contract tests run against every engine whose URL is set. */
    OPENSEARCH_URL: optionalUrl,
    ELASTICSEARCH_URL: optionalUrl,
    /** Which event store adapter (platform/event-store/index.ts); the command API runs on postgres only. */
    EVENT_STORE: z.enum(['postgres', 'eventstoredb']).default('postgres'),
    /** Required by EVENT_STORE=eventstoredb; when set, the event store contract tests run against it too. */
    EVENTSTORE_URL: esdbUrl,
    COMMAND_API_PORT: port(3001),
    QUERY_API_PORT: port(3002),
    /** Overrides the listening port of whichever single service this process runs. */
    PORT: z.coerce.number().int().min(1).max(65535).optional(),
    /** Interface every service listens on (public and admin ports). */
    HOST: z.string().min(1).default('127.0.0.1'),
    /** Overrides the admin port (/metrics, detailed health) of whichever single service this process runs. */
    ADMIN_PORT: z.coerce.number().int().min(0).max(65535).optional(),
    /** The one HS256 key (kid `default`) when JWT_KEYS is unset. */
    JWT_SECRET: z
      .string()
      .refine((s) => secretBytes(s) >= MIN_JWT_SECRET_BYTES, `must be at least ${MIN_JWT_SECRET_BYTES} bytes`)
      .default(DEV_JWT_SECRET),
    /** Key rotation: `kid1:secret1,kid2:secret2`; replaces JWT_SECRET; the first key signs. */
    JWT_KEYS: z
      .string()
      .optional()
      .superRefine((s, ctx) => {
        if (s === undefined) return;
        const keys = parseJwtKeys(s);
        if (typeof keys === 'string') ctx.addIssue({ code: 'custom', message: keys });
        else if (keys.some((k) => secretBytes(k.secret) < MIN_JWT_SECRET_BYTES)) {
          ctx.addIssue({
            code: 'custom',
            message: `every secret must be at least ${MIN_JWT_SECRET_BYTES} bytes`,
          });
        }
      }),
    JWT_ISSUER: z.string().min(1).default('booking-platform'),
    JWT_AUDIENCE: z.string().min(1).default('booking-api'),
    /** Longest token lifetime (exp - iat) accepted and minted. */
    JWT_MAX_TTL_SECONDS: z.coerce
      .number()
      .int()
      .min(60)
      .max(30 * 86_400)
      .default(86_400),
    /**
     * A projector or relay further behind than this (events) makes its process degraded and not
     * ready; the ProjectionLagOverBudget alert (infra/prometheus/alerts.yml) uses the same figure.
     */
    LAG_BUDGET_EVENTS: z.coerce.number().int().min(1).max(100_000_000).default(1000),
    IDEMPOTENCY_TTL_HOURS: z.coerce
      .number()
      .int()
      .min(24)
      .max(24 * 30)
      .default(24),
    /**
     * Key-encryption key of the patients' data keys (docs/adr/0010): 32 bytes, hex or base64. The
     * local default is refused when NODE_ENV=production.
     */
    PATIENT_KEK: z
      .string()
      .default(DEV_PATIENT_KEK)
      .refine((s) => parseKek(s) !== undefined, { message: 'expected 32 bytes as 64 hex digits or base64' }),
    /** How many days after the hospital's today a schedule may be opened for (the booking horizon). */
    BOOKING_HORIZON_DAYS: z.coerce.number().int().min(1).max(3650).default(90),
    /** Numbered slots (docs/adr/0012): minutes a paid slot is held unpaid before it expires. */
    HOLD_MINUTES: z.coerce.number().int().min(1).max(1440).default(15),
    /** Minutes a waitlist offer of a paid slot is held for the offered patient. */
    OFFER_MINUTES: z.coerce.number().int().min(1).max(1440).default(15),
    /** Booking and waitlisting close this many minutes before the session starts. */
    BOOKING_CUTOFF_MINUTES: z.coerce.number().int().min(0).max(10_080).default(0),
    /** A patient may cancel until this many minutes before their slot (the hospital always). */
    CANCELLATION_CUTOFF_MINUTES: z.coerce.number().int().min(0).max(10_080).default(0),
    /** Per-patient rules: at most this many active numbered appointments per patient. */
    PATIENT_MAX_ACTIVE: z.coerce.number().int().min(1).max(1000).default(5),
    /** Per-patient rules: this many no-shows within NO_SHOW_WINDOW_DAYS limit the patient. */
    NO_SHOW_LIMIT: z.coerce.number().int().min(1).max(1000).default(3),
    NO_SHOW_WINDOW_DAYS: z.coerce.number().int().min(1).max(3650).default(90),
    /** How often each command API instance polls the due deadlines (holds, releases); 0: never. */
    DEADLINE_POLL_MS: z.coerce.number().int().min(0).max(600_000).default(1000),
    /** How long a claimed deadline stays with the instance that claimed it before another may fire it. */
    DEADLINE_LEASE_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
    /** Notifications (docs/adr/0014): the notifier's public port (admin port + 1000). */
    NOTIFICATIONS_PORT: port(3006),
    /** The request processor's health port (requests/, docs/adr/0015); admin port + 1000. */
    REQUEST_PROCESSOR_PORT: port(3008),
    /** The notifier's position in the event store (notifier_checkpoints); a second environment uses its own. */
    NOTIFIER_NAME: z.string().min(1).default('notifier'),
    /** Where a notifier without a checkpoint starts: `end` (only new events) or `start` (the whole log). */
    NOTIFY_START: z.enum(['start', 'end']).default('end'),
    /** The provider notifications go to: `local` records them in `notification_messages`. */
    NOTIFY_PROVIDER: z.enum(['local']).default('local'),
    /** How often the notifier reads new events and sends due notifications; 0: never (tests poll by hand). */
    NOTIFY_POLL_MS: z.coerce.number().int().min(0).max(600_000).default(500),
    /** How long a claimed notification stays with the notifier that claimed it. */
    NOTIFY_LEASE_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
    /** Attempts (with doubling backoff from NOTIFY_RETRY_BASE_MS) before a notification is failed. */
    NOTIFY_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(6),
    NOTIFY_RETRY_BASE_MS: z.coerce.number().int().min(1).max(3_600_000).default(2000),
    /** The hold reminder goes this many minutes before the hold expires. */
    NOTIFY_HOLD_REMINDER_MINUTES: z.coerce.number().int().min(0).max(1440).default(5),
    /** The reminder before the session goes this many hours before the slot starts. */
    NOTIFY_DAY_BEFORE_HOURS: z.coerce.number().int().min(1).max(168).default(24),
    /** Inbound flow control: commands one patient may send per minute, shared by every instance (0: off). */
    PATIENT_COMMANDS_PER_MINUTE: z.coerce.number().int().min(0).max(100_000).default(30),
    /** The Redis hash of this environment's live flow rules (platform/flow/rule-store.ts); absent: the file default. */
    FLOW_RULES_KEY: z.string().min(1).default('flow:rules'),
    /**
     * A JSON flow-rules document (the schema of PUT /v1/admin/flow-rules) replacing the built-in
     * defaults as this deployment's file default: what applies while FLOW_RULES_KEY holds none.
     */
    FLOW_RULES_FILE: z.string().min(1).optional(),
    /** Connection hygiene (platform/http/server.ts): open connections per public listener; more are dropped. */
    HTTP_MAX_CONNECTIONS: z.coerce.number().int().min(1).max(1_000_000).default(1024),
    /**
     * Connections the kernel holds completed for a listener until the loop accepts them (listen's
     * backlog; Linux caps it at net.core.somaxconn). Node's 511 overflowed under a burst of new
     * connections to a busy loop: SYNs dropped, clients waiting 1 s and 3 s to retransmit.
     */
    HTTP_LISTEN_BACKLOG: z.coerce.number().int().min(1).max(65_535).default(4096),
    /** Time a client has to send its request line and headers (slowloris, idle new connections). */
    HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(10_000),
    /** Time a client has to send a whole request, body included. */
    HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
    /** An idle keep-alive connection is closed after this long (behind a load balancer: above its idle timeout). */
    HTTP_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(5_000),
    /** Booking rush (docs/adr/0015): the topic rush-mode bookings are queued on, keyed by schedule id. */
    BOOKING_REQUESTS_TOPIC: z.string().min(1).default('booking.requests'),
    /** The request processor's consumer group (requests/): partitions are shared among its members. */
    REQUEST_PROCESSOR_GROUP: z.string().min(1).default('booking-request-processor'),
    /** Most requests the processor decides in one transaction (one durable commit). */
    REQUEST_BATCH_MAX: z.coerce.number().int().min(1).max(10_000).default(500),
    /** A rush-mode booking gets 503 + Retry-After when Kafka has not acknowledged it within this long. */
    RUSH_PRODUCE_TIMEOUT_MS: z.coerce.number().int().min(50).max(60_000).default(2_000),
    /**
     * A schedule switches to rush mode by itself when more booking commands than this arrive for it
     * within one second, counted across all instances in Redis (command-api/rush-auto-switch.ts).
     * Unset: never automatically (the default).
     */
    RUSH_AUTO_THRESHOLD_PER_S: z.coerce.number().int().min(1).max(1_000_000).optional(),
    /** A `pending` booking request (accepted, never acknowledged by Kafka) older than this is removed. */
    RUSH_PENDING_EXPIRE_S: z.coerce.number().int().min(10).max(86_400).default(300),
  })
  .superRefine((c, ctx) => {
    if (c.HTTP_HEADERS_TIMEOUT_MS > c.HTTP_REQUEST_TIMEOUT_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['HTTP_HEADERS_TIMEOUT_MS'],
        message: `must not exceed HTTP_REQUEST_TIMEOUT_MS (${c.HTTP_REQUEST_TIMEOUT_MS})`,
      });
    }
    if (c.NODE_ENV === 'production' && c.PATIENT_KEK === DEV_PATIENT_KEK) {
      ctx.addIssue({ code: 'custom', path: ['PATIENT_KEK'], message: 'must be set in production' });
    }
    if (c.EVENT_STORE === 'eventstoredb' && c.EVENTSTORE_URL === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['EVENTSTORE_URL'],
        message: 'required when EVENT_STORE=eventstoredb (e.g. esdb://127.0.0.1:2113?tls=false)',
      });
    }
    // The development secret is public (it is in this file): a production token signed with it is forgeable.
    if (c.NODE_ENV === 'production' && c.JWT_KEYS === undefined && c.JWT_SECRET === DEV_JWT_SECRET) {
      ctx.addIssue({
        code: 'custom',
        path: ['JWT_SECRET'],
        message: `must be set in production (or JWT_KEYS), to a secret of at least ${MIN_JWT_SECRET_BYTES} bytes`,
      });
    }
    const keys = c.JWT_KEYS === undefined ? [] : parseJwtKeys(c.JWT_KEYS);
    if (c.NODE_ENV === 'production' && Array.isArray(keys) && keys.some((k) => k.secret === DEV_JWT_SECRET)) {
      ctx.addIssue({
        code: 'custom',
        path: ['JWT_KEYS'],
        message: 'must not use the development secret in production',
      });
    }
  });

/** The verification keys of a configuration: JWT_KEYS, else JWT_SECRET as kid `default`. */
export function jwtKeysOf(config: Pick<Config, 'JWT_SECRET'> & Partial<Pick<Config, 'JWT_KEYS'>>): JwtKey[] {
  const keys = config.JWT_KEYS === undefined ? undefined : parseJwtKeys(config.JWT_KEYS);
  if (typeof keys === 'string') throw new Error(`JWT_KEYS: ${keys}`);
  return keys ?? [{ kid: 'default', secret: config.JWT_SECRET }];
}

export type Config = z.infer<typeof configSchema>;

export type EnvResult<T> = { ok: true; config: T } | { ok: false; errors: string[] };
export type ConfigResult = EnvResult<Config>;

/**
 * Pure: parses an environment with any settings schema into its values, or one message per bad
 * key (`KEY="value": why`). Empty strings mean "unset", so `FOO= npm start` takes the default.
 * Every process's settings go through here.
 */
export function parseEnv<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined>,
): EnvResult<z.infer<S>> {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(cleaned);
  if (result.success) return { ok: true, config: result.data };
  const byKey = new Map<string, string>();
  for (const issue of result.error.issues) {
    const key = String(issue.path[0] ?? '(root)');
    if (!byKey.has(key)) byKey.set(key, `${key}=${JSON.stringify(env[key] ?? '')}: ${issue.message}`);
  }
  return { ok: false, errors: [...byKey.values()] };
}

/** For composition roots: a bad environment prints one line per key and exits 1, without a stack trace. */
export function loadEnv<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.infer<S> {
  const result = parseEnv(schema, env);
  if (!result.ok) {
    process.stderr.write(`Invalid configuration:\n${result.errors.map((e) => `  - ${e}`).join('\n')}\n`);
    process.exit(1);
  }
  return result.config;
}

export const parseConfig = (env: Record<string, string | undefined>): ConfigResult =>
  parseEnv(configSchema, env);

let cached: Config | undefined;

/** The platform settings of this process (validated once). */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  if (cached && env === process.env) return cached;
  const config = loadEnv(configSchema, env);
  if (env === process.env) cached = config;
  return config;
}
