/**
 * The page behind each problem type URI (`/problems/<code>`): what happened and what a client
 * should do, from the error catalogue. HTML for people, JSON (`Accept: application/json`) for
 * tools. Both APIs serve it (api-docs.ts).
 */
import { z } from 'zod';
import { catalogue, type CatalogueEntry, type ErrorCode, problemTypeUri } from './errors.ts';

export const problemTypeDocSchema = z.strictObject({
  type: z.string(),
  code: z.string(),
  title: z.string(),
  status: z.int(),
  explanation: z.string(),
  clientAction: z.string(),
  action: z.enum(['fix-request', 'authenticate', 'retry-later', 'do-not-retry']),
  headers: z.array(z.string()),
});

export type ProblemTypeDoc = z.infer<typeof problemTypeDocSchema>;

export function problemTypeDoc(code: ErrorCode, problemBase: string): ProblemTypeDoc {
  const entry: CatalogueEntry = catalogue[code];
  return {
    type: problemTypeUri(code, problemBase),
    code,
    title: entry.title,
    status: entry.status,
    explanation: entry.explanation,
    clientAction: entry.clientAction,
    action: entry.action,
    headers: [...(entry.headers ?? [])],
  };
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const ACTIONS: Record<ProblemTypeDoc['action'], string> = {
  'fix-request': 'Fix the request, then send it again.',
  authenticate: 'Authenticate again, then retry.',
  'retry-later': 'Retry later (after Retry-After when sent), with the same Idempotency-Key.',
  'do-not-retry': 'Do not retry: the outcome will not change.',
};

export function problemTypeHtml(doc: ProblemTypeDoc): string {
  const e = escapeHtml;
  const headers = doc.headers.length
    ? `<p>Comes with the response header(s): ${doc.headers.map((h) => `<code>${e(h)}</code>`).join(', ')}.</p>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${e(doc.title)} (${doc.status})</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}code{background:#f3f3f3;padding:0 .2em}</style>
</head><body>
<h1>${e(doc.title)}</h1>
<p>HTTP status <strong>${doc.status}</strong>, problem code <code>${e(doc.code)}</code>, type <code>${e(doc.type)}</code>.</p>
<h2>What happened</h2><p>${e(doc.explanation)}</p>
<h2>What to do</h2><p><strong>${e(ACTIONS[doc.action])}</strong> ${e(doc.clientAction)}</p>
${headers}
<p>Responses are <code>application/problem+json</code> (RFC 9457) with <code>type</code>, <code>title</code>, <code>status</code>, <code>code</code>, optional <code>detail</code>, <code>instance</code>, <code>traceId</code> and <code>invalid-params</code>. All problems: <a href="/openapi.json">/openapi.json</a>, <a href="/docs">/docs</a>.</p>
</body></html>
`;
}
