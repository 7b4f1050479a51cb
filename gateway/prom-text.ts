/**
 * A tiny reader of the Prometheus text format (what prom-client's registry.metrics() writes):
 * one sample a line, `name{label="value",…} value`. prom-client writes this format but has no
 * reader; the ops page needs only the samples, not the HELP/TYPE metadata.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = LINE.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(LABEL)) {
      if (key !== undefined && value !== undefined) labels[key] = value.replace(/\\(.)/g, '$1');
    }
    const raw = match[3] ?? '';
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    samples.push({ name: match[1] ?? '', labels, value });
  }
  return samples;
}

/** Sum of the samples named `name` whose labels match `where` (every given label equal). */
export function sumOf(
  samples: readonly Sample[],
  name: string,
  where: (l: Record<string, string>) => boolean = () => true,
): number {
  let total = 0;
  for (const s of samples)
    if (s.name === name && where(s.labels) && Number.isFinite(s.value)) total += s.value;
  return total;
}

/** Whether any sample named `name` exists. */
export const has = (samples: readonly Sample[], name: string): boolean =>
  samples.some((s) => s.name === name);
