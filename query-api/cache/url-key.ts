/**
 * The canonical form of a request URL, which the fast path remembers and looks up: parameters
 * sorted by name (a stable sort keeps repeated names in their order), tracking tags dropped.
 * Links shared from campaigns and apps carry such tags (`utm_source`, `fbclid`, …) with values
 * unique per click: they must neither be refused (the query schemas are strict, so the API
 * names a mistyped parameter) nor split the cache into one entry per click.
 */

/** Parameters that only mean something to analytics, never to the API. */
const TRACKING =
  /^(utm_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|mc_cid|mc_eid|_ga|_gl|igshid|spm)$/i;

export const isTrackingParam = (name: string): boolean => TRACKING.test(name);

const byName = (a: [string, string], b: [string, string]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

/** Path plus sorted, tag-free parameters (form-encoded the one way URLSearchParams does). */
export function normaliseUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const path = url.slice(0, q);
  const kept = [...new URLSearchParams(url.slice(q + 1))].filter(([name]) => !isTrackingParam(name));
  if (kept.length === 0) return path;
  return `${path}?${new URLSearchParams(kept.sort(byName)).toString()}`;
}
