/**
 * Every HTTP header the APIs read or write that a client should know, described once: the
 * OpenAPI documents take their header parameters and response headers from here by name.
 */
type HeaderSchema =
  { type: 'string'; pattern?: string; format?: string } | { type: 'integer'; minimum?: number };

export interface HeaderDoc {
  description: string;
  schema: HeaderSchema;
}

const text: HeaderSchema = { type: 'string' };
const seconds: HeaderSchema = { type: 'integer', minimum: 0 };

export const requestHeaders = {
  'Idempotency-Key': {
    description:
      'Required on every command: 1-255 printable ASCII characters (e.g. a UUID), bare or as a quoted structured-field string. A retry with the same key and payload gets the first outcome back (Idempotent-Replayed: true); keys are kept per principal for 24 hours.',
    // idempotency.ts's two accepted forms: a bare token, or a quoted structured-field string.
    schema: {
      type: 'string',
      pattern: '^(?:[\\x21\\x23-\\x7e]{1,255}|"(?:[\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]|\\\\["\\\\]){1,255}")$',
    },
  },
  'Booking-Checkpoint': {
    description:
      'Read-your-writes: the Booking-Checkpoint a command returned. The query waits (up to 2 s) until the read model has applied it; otherwise it answers with X-Data-Stale: checkpoint-not-reached.',
    schema: { type: 'string', pattern: '^\\d+:\\d+$' },
  },
  traceparent: {
    description:
      'W3C trace context: honoured when valid (the request joins the trace), else a trace is started.',
    schema: { type: 'string', pattern: '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$' },
  },
  'If-None-Match': {
    description: 'An ETag from an earlier response: 304 Not Modified (no body) while it still matches.',
    schema: text,
  },
} as const satisfies Record<string, HeaderDoc>;

export const responseHeaders = {
  traceparent: {
    description:
      'W3C trace context of this request (a new span of the incoming trace); present when the service runs with OpenTelemetry and traced the request.',
    schema: text,
  },
  'X-Trace-Id': {
    description:
      'Trace id of this request (also the problem traceId): quote it when reporting. Present when the request was traced (not on fast-path cache hits).',
    schema: { type: 'string', pattern: '^[0-9a-f]{32}$' },
  },
  Location: { description: 'Path of the created resource.', schema: text },
  'Booking-Checkpoint': {
    description: "Position of the command's last event: send it to the query API to read your own write.",
    schema: { type: 'string', pattern: '^\\d+:\\d+$' },
  },
  'Idempotent-Replayed': {
    description:
      '`true` when this is the stored outcome of an earlier request with the same Idempotency-Key.',
    schema: { type: 'string', pattern: '^true$' },
  },
  'RateLimit-Limit': {
    description:
      'Requests a patient may send per window (IETF RateLimit header fields draft; patients only).',
    schema: seconds,
  },
  'RateLimit-Remaining': { description: 'Requests left in the current window.', schema: seconds },
  'RateLimit-Reset': { description: 'Seconds until the window resets.', schema: seconds },
  'Retry-After': { description: 'Seconds to wait before retrying.', schema: seconds },
  'WWW-Authenticate': {
    description: 'Bearer challenge (`Bearer realm="booking"`, with `error="invalid_token"` for a bad token).',
    schema: text,
  },
  Allow: { description: 'Methods the path supports.', schema: text },
  ETag: {
    description:
      'Strong validator of the representation (per content coding): send it back as If-None-Match.',
    schema: text,
  },
  'X-Cache': {
    description:
      'How the in-process cache served the read: l1-hit, l1-stale-revalidating, l1-stale-fallback (Redis down), l2-load (from Redis).',
    schema: text,
  },
  'X-Data-Stale': {
    description:
      'Present when the data could not be refreshed: `redis-unavailable` (Redis does not answer: served from memory), `read-model-rebuilding` (the booking read model is being rebuilt from the event log), `checkpoint-not-reached` (Booking-Checkpoint waited for in vain) or `not-projected-yet` (an appointment the read model does not hold yet).',
    schema: text,
  },
  Age: { description: 'Seconds since the stale copy was loaded (with X-Data-Stale).', schema: seconds },
  'Cache-Control': { description: 'Caching policy of the response.', schema: text },
} as const satisfies Record<string, HeaderDoc>;

export type RequestHeaderName = keyof typeof requestHeaders;
export type ResponseHeaderName = keyof typeof responseHeaders;

export const isResponseHeaderName = (name: string): name is ResponseHeaderName =>
  Object.hasOwn(responseHeaders, name);
