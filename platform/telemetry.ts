/**
 * OpenTelemetry for every process of the platform: the Node SDK with the http (outgoing calls),
 * pg, ioredis and kafkajs instrumentations, our own server span (http-server-span.ts, named by its
 * Express route), the W3C trace-context propagator, and spans exported to Zipkin (or wherever OTEL_*
 * says). Started by platform/telemetry-register.ts, which the services are run with
 * (`node --import ./platform/telemetry-register.ts …`), before any instrumented module loads.
 * Everything else reads the trace context through platform/context.ts.
 *
 * Configuration is OpenTelemetry's own environment:
 *   OTEL_SDK_DISABLED=true               no SDK at all (no spans, no trace ids)
 *   OTEL_SERVICE_NAME                    default: from the entry file (command-api, query-api, …)
 *   OTEL_TRACES_EXPORTER                 default `zipkin`; `otlp` (with OTEL_EXPORTER_OTLP_*) or `console`
 *   OTEL_EXPORTER_ZIPKIN_ENDPOINT        default http://127.0.0.1:9411/api/v2/spans
 *   OTEL_TRACES_SAMPLER(_ARG)            default parentbased_always_on; with NODE_ENV=production
 *                                        parentbased_traceidratio 0.1
 *   OTEL_BSP_SCHEDULE_DELAY              export interval of the batch span processor (ms)
 *   OTEL_NODE_RESOURCE_DETECTORS         the SDK's resource detectors (default here: none but the
 *                                        environment's; see spanResource)
 *   SERVICE_VERSION                      the build's version (`service.version` on every span), set
 *                                        by the supervisor per instance for the gray release (ADR 0021)
 */
import type { IncomingMessage } from 'node:http';
import { hostname } from 'node:os';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { KafkaJsInstrumentation } from '@opentelemetry/instrumentation-kafkajs';
import { NodeSDK, resources } from '@opentelemetry/sdk-node';
import { isUntracedRequest, onTelemetryShutdown } from './context.ts';
import { traceIncomingRequests } from './http-server-span.ts';
import { RecordingOnlyPgInstrumentation } from './pg-instrumentation.ts';

export const DEFAULT_ZIPKIN_ENDPOINT = 'http://127.0.0.1:9411/api/v2/spans';

/** Probes and scrapes: answered often, never worth a trace. */
const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/** Service name from the entry file the process runs (`…/query-api/main.ts` → `query-api`). */
export function serviceNameOf(entry: string | undefined): string {
  const path = (entry ?? '').replaceAll('\\', '/');
  if (/projections\/catalog\/main\.[jt]s$/.test(path)) return 'catalog-projections';
  const known = ['command-api', 'query-api', 'projections', 'supervisor'].find((name) =>
    new RegExp(`(^|/)${name}/[^/]+\\.[jt]s$`).test(path),
  );
  if (known) return known;
  if (/projections-child\.[jt]s$/.test(path)) return 'projections';
  return path ? (path.split('/').at(-1) ?? 'booking').replace(/\.[jt]s$/, '') : 'booking';
}

const ignoredIncoming = (req: IncomingMessage): boolean => {
  const path = (req.url ?? '').split('?')[0] ?? '';
  return QUIET_PATHS.has(path) || isUntracedRequest(req);
};

export interface Telemetry {
  readonly serviceName: string;
  shutdown(): Promise<void>;
}

/**
 * Every trace while developing and testing; one in ten in production (a request that arrives with
 * a sampled traceparent is always kept). OTEL_TRACES_SAMPLER(_ARG) override both.
 */
export function applySamplerDefault(env: NodeJS.ProcessEnv): void {
  if (env.NODE_ENV !== 'production' || env.OTEL_TRACES_SAMPLER !== undefined) return;
  env.OTEL_TRACES_SAMPLER = 'parentbased_traceidratio';
  env.OTEL_TRACES_SAMPLER_ARG ??= '0.1';
}

/**
 * SERVICE_VERSION as the `service.version` resource attribute (through OTEL_RESOURCE_ATTRIBUTES,
 * which the SDK reads), so traces of two builds running side by side can be told apart. A
 * service.version already given there wins.
 */
export function applyServiceVersion(env: NodeJS.ProcessEnv): void {
  const version = env.SERVICE_VERSION?.trim();
  if (!version) return;
  const attributes = env.OTEL_RESOURCE_ATTRIBUTES?.trim() ?? '';
  if (/(^|,)\s*service\.version\s*=/.test(attributes)) return;
  const entry = `service.version=${encodeURIComponent(version)}`;
  env.OTEL_RESOURCE_ATTRIBUTES = attributes ? `${attributes},${entry}` : entry;
}

/**
 * What every span says of its process: which host and process (instances side by side), and
 * OTEL_RESOURCE_ATTRIBUTES (service.version, ADR 0021); the service name is the SDK's option.
 * Zipkin has no resource: its exporter copies every resource attribute onto every span as a tag,
 * and the SDK's default detectors (process, host, SDK: the command line, executable path, owner,
 * runtime, host id and arch, SDK version…) made 16 of a statement span's 22 tags, about 40 % of
 * its JSON, serialised by each service and parsed by Zipkin span by span.
 * OTEL_NODE_RESOURCE_DETECTORS set brings the SDK's detectors back.
 */
export function spanResource(env: NodeJS.ProcessEnv): {
  resource?: resources.Resource;
  resourceDetectors?: resources.ResourceDetector[];
} {
  if (env.OTEL_NODE_RESOURCE_DETECTORS) return {};
  return {
    resource: resources.resourceFromAttributes({ 'host.name': hostname(), 'process.pid': process.pid }),
    resourceDetectors: [resources.envDetector],
  };
}

/** Starts the SDK unless OTEL_SDK_DISABLED=true; returns undefined when it is off. */
export function startTelemetry(env: NodeJS.ProcessEnv = process.env): Telemetry | undefined {
  if (/^(true|1)$/i.test(env.OTEL_SDK_DISABLED ?? '')) return undefined;
  env.OTEL_TRACES_EXPORTER ??= 'zipkin';
  applySamplerDefault(env);
  applyServiceVersion(env);
  env.OTEL_EXPORTER_ZIPKIN_ENDPOINT ??= DEFAULT_ZIPKIN_ENDPOINT;
  // Metrics stay with prom-client (/metrics); logs with pino.
  env.OTEL_METRICS_EXPORTER ??= 'none';
  env.OTEL_LOGS_EXPORTER ??= 'none';
  const serviceName = env.OTEL_SERVICE_NAME ?? serviceNameOf(process.argv[1]);

  const sdk = new NodeSDK({
    serviceName,
    ...spanResource(env),
    instrumentations: [
      // Outgoing calls only: the server span is ours (http-server-span.ts).
      new HttpInstrumentation({
        disableIncomingRequestInstrumentation: true,
        // A background call (a health probe of the search engine, a metrics scrape) starts no trace.
        requireParentforOutgoingSpans: true,
      }),
      // Polls (the relay's readAll, lag samplers, health checks) have no parent span: no trace each;
      // nor has an unsampled request's statement any span (pg-instrumentation.ts: the stock one made
      // a non-recording span per statement, at about a tenth of the traced server's tracing CPU).
      // A pool checkout is no span (it was three of a booking's thirteen): the statements say
      // enough, and a slow checkout shows as the gap before the first; the pool is not patched.
      new RecordingOnlyPgInstrumentation({ ignoreConnectSpans: true }),
      new IORedisInstrumentation({ requireParentSpan: true }),
      new KafkaJsInstrumentation(),
    ],
  });
  sdk.start();
  traceIncomingRequests(ignoredIncoming);
  const telemetry: Telemetry = {
    serviceName,
    shutdown: () => sdk.shutdown(),
  };
  onTelemetryShutdown(() => sdk.shutdown());
  return telemetry;
}
