import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** Where jars, data, logs and pid files live: outside the repository, shared by every clone. */
export const ENGINES_HOME = resolve(
  process.env.BOOKING_ENGINES_HOME ?? join(homedir(), '.cache', 'booking-engines'),
);
export const REPO_LOCAL_DIR = resolve(import.meta.dirname);

export const ports = {
  kafka: Number(process.env.LOCAL_KAFKA_PORT ?? 9092),
  kafkaController: Number(process.env.LOCAL_KAFKA_CONTROLLER_PORT ?? 9093),
  connect: Number(process.env.LOCAL_CONNECT_PORT ?? 8083),
  opensearch: Number(process.env.LOCAL_OPENSEARCH_PORT ?? 9200),
  opensearchTransport: Number(process.env.LOCAL_OPENSEARCH_TRANSPORT_PORT ?? 9300),
  zipkin: Number(process.env.LOCAL_ZIPKIN_PORT ?? 9411),
};

/** Spans the in-memory Zipkin keeps before dropping the oldest traces (bounds its heap). */
export const zipkinMaxSpans = Number(process.env.LOCAL_ZIPKIN_MAX_SPANS ?? 100_000);

export type EngineName = 'kafka' | 'connect' | 'opensearch' | 'zipkin';

export interface EngineSpec {
  name: EngineName;
  /** Maven module under infra/local/maven whose runtime dependencies make the classpath. */
  poms: string[];
  port: number;
  /** 2 cores / 24 GiB shared by three JVMs, PostgreSQL, Redis and the Node services. */
  heap: string;
  mainClass: string;
  describe: string;
}

export const specs: Record<EngineName, EngineSpec> = {
  kafka: {
    name: 'kafka',
    poms: ['kafka'],
    port: ports.kafka,
    heap: '-Xms256m -Xmx768m',
    mainClass: 'kafka.Kafka',
    describe: `Apache Kafka (KRaft) at 127.0.0.1:${ports.kafka}`,
  },
  connect: {
    name: 'connect',
    poms: ['connect', 'debezium'],
    port: ports.connect,
    heap: '-Xms256m -Xmx768m',
    mainClass: 'org.apache.kafka.connect.cli.ConnectDistributed',
    describe: `Kafka Connect + Debezium at http://127.0.0.1:${ports.connect}`,
  },
  opensearch: {
    name: 'opensearch',
    poms: ['opensearch'],
    port: ports.opensearch,
    heap: '-Xms1g -Xmx1g',
    mainClass: 'org.codelibs.opensearch.runner.OpenSearchRunner',
    describe: `OpenSearch at http://127.0.0.1:${ports.opensearch}`,
  },
  zipkin: {
    name: 'zipkin',
    poms: ['zipkin'],
    port: ports.zipkin,
    // In-memory storage, bounded by MEM_MAX_SPANS: traces of a laptop, not an archive.
    heap: '-Xms128m -Xmx512m',
    // The exec jar is a Spring Boot jar: its launcher finds the bundled classes in that jar.
    mainClass: 'org.springframework.boot.loader.launch.JarLauncher',
    describe: `Zipkin (traces) UI at http://127.0.0.1:${ports.zipkin}/zipkin/`,
  },
};

export const START_ORDER: EngineName[] = ['kafka', 'opensearch', 'zipkin', 'connect'];

export const paths = {
  lib: (pom: string) => join(ENGINES_HOME, pom, 'lib'),
  plugins: join(ENGINES_HOME, 'plugins'),
  data: (engine: EngineName) => join(ENGINES_HOME, 'data', engine),
  conf: (engine: EngineName) => join(ENGINES_HOME, 'conf', engine),
  log: (engine: EngineName) => join(ENGINES_HOME, 'logs', `${engine}.log`),
  pid: (engine: EngineName) => join(ENGINES_HOME, 'run', `${engine}.pid`),
  pom: (pom: string) => join(REPO_LOCAL_DIR, 'maven', pom, 'pom.xml'),
  template: (file: string) => join(REPO_LOCAL_DIR, 'conf', file),
};
