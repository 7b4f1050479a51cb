/**
 * Pure planning of how many processes the supervisor runs per service (docs/adr/0021):
 * `--instances query-api=2,command-api=2` (or INSTANCES) runs N instances of a service, each on
 * its own port; `--canary query-api[=<checkout>]` (or CANARIES) runs one instance of a second build
 * beside them for the gray release. What the instances share is each service's own business: the
 * APIs are stateless behind the gateway, projectors and the request processor split partitions
 * through their Kafka consumer groups, the relay keeps one active instance through its advisory
 * lock (the others stand by), notifications and deadlines are claimed with leases.
 *
 * Ports: instance k (from 0) of a service with port P listens on P + 10·k (admin port + 1000, as
 * always), so `query-api` is 3002, 3012, 3022…; its canary on P + 100 (3102).
 */
export interface ServiceSpec {
  name: string;
  entry: string;
  /** Its default public port (/healthz, /readyz; the API itself for the APIs). */
  port: number;
  /** The variable its port is set with (most services read PORT; some only their own). */
  portEnv?: string;
}

export type Track = 'stable' | 'canary';

export interface InstanceSpec {
  /** `query-api` for the first instance, `query-api#2`…, `query-api@canary` for the canary. */
  name: string;
  service: string;
  entry: string;
  /** The checkout it runs from (undefined: this one). */
  root?: string;
  port: number;
  /** Environment that gives this instance its port and version. */
  env: Record<string, string>;
  track: Track;
}

export const MAX_INSTANCES = 9;

const pairs = (text: string) =>
  text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => {
      const at = p.indexOf('=');
      return at < 0 ? ([p, undefined] as const) : ([p.slice(0, at).trim(), p.slice(at + 1).trim()] as const);
    });

/** Pure: `query-api=2,command-api=2` → counts by service, or why it is invalid. */
export function parseInstances(text: string, known: readonly string[]): Record<string, number> | string {
  const out: Record<string, number> = {};
  for (const [name, value] of pairs(text)) {
    if (!known.includes(name)) return `unknown service ${JSON.stringify(name)} (known: ${known.join(', ')})`;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > MAX_INSTANCES) {
      return `${name}: expected 1 to ${MAX_INSTANCES} instances, got ${JSON.stringify(value ?? '')}`;
    }
    out[name] = n;
  }
  return out;
}

/** Pure: `query-api=../v2,command-api` → the checkout of each canary ('' for this one), or why not. */
export function parseCanaries(text: string, known: readonly string[]): Record<string, string> | string {
  const out: Record<string, string> = {};
  for (const [name, root] of pairs(text)) {
    if (!known.includes(name)) return `unknown service ${JSON.stringify(name)} (known: ${known.join(', ')})`;
    out[name] = root ?? '';
  }
  return out;
}

/** The value of `--name value` or `--name=value` in argv. */
export function argValue(argv: readonly string[], name: string): string | undefined {
  const flag = `--${name}`;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === flag) return argv[i + 1];
    if (arg.startsWith(`${flag}=`)) return arg.slice(flag.length + 1);
  }
  return undefined;
}

/** Pure: every process to run, in the services' order, instances of a service side by side. */
export function planInstances(
  services: readonly ServiceSpec[],
  counts: Readonly<Record<string, number>>,
  canaries: Readonly<Record<string, string>>,
  versions: { stable: string; canary: string },
): InstanceSpec[] {
  const out: InstanceSpec[] = [];
  const portEnv = (spec: ServiceSpec, port: number) => ({
    [spec.portEnv ?? 'PORT']: String(port),
  });
  for (const spec of services) {
    const n = counts[spec.name] ?? 1;
    for (let k = 0; k < n; k++) {
      const port = spec.port + 10 * k;
      out.push({
        name: k === 0 ? spec.name : `${spec.name}#${k + 1}`,
        service: spec.name,
        entry: spec.entry,
        port,
        // The first instance keeps the defaults it always had (its own settings may move it).
        env: { ...(k === 0 ? {} : portEnv(spec, port)), SERVICE_VERSION: versions.stable },
        track: 'stable',
      });
    }
    const root = canaries[spec.name];
    if (root !== undefined) {
      const port = spec.port + 100;
      out.push({
        name: `${spec.name}@canary`,
        service: spec.name,
        entry: spec.entry,
        ...(root ? { root } : {}),
        port,
        env: { ...portEnv(spec, port), SERVICE_VERSION: versions.canary },
        track: 'canary',
      });
    }
  }
  return out;
}

/** Pure: what the gateway needs to know of the API instances and where every /metrics is. */
export function gatewayEnv(
  plan: readonly InstanceSpec[],
  urlOf: (port: number) => string,
  versions: { stable: string; canary: string },
): Record<string, string> {
  const urls = (service: string, track: Track) =>
    plan
      .filter((i) => i.service === service && i.track === track)
      .map((i) => urlOf(i.port))
      .join(',');
  const env: Record<string, string> = {
    COMMAND_API_URLS: urls('command-api', 'stable'),
    QUERY_API_URLS: urls('query-api', 'stable'),
    COMMAND_API_CANARY_URLS: urls('command-api', 'canary'),
    QUERY_API_CANARY_URLS: urls('query-api', 'canary'),
    RELEASE_STABLE_VERSION: versions.stable,
    RELEASE_CANARY_VERSION: versions.canary,
    OPS_METRICS_TARGETS: plan
      .filter((i) => i.service !== 'gateway')
      .map((i) => `${i.name}=${urlOf(i.port + 1000)}`)
      .join(','),
  };
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
}
