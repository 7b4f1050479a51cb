/**
 * The one error catalogue: a stable code per failure, mapped to an HTTP status and an
 * RFC 9457 problem type. Services throw `AppError`; one middleware renders it.
 * Add codes here, never ad-hoc statuses in handlers.
 */
/** What a client should do about a problem, in one word (the page and the OpenAPI document say more). */
export type ClientAction =
  | 'fix-request' // change the request (a field, a header, the body) and send it again
  | 'authenticate' // get a (new) token and send it again
  | 'retry-later' // the same request may succeed later: wait (Retry-After when sent), same Idempotency-Key
  | 'do-not-retry'; // the request is valid but the state forbids it: retrying changes nothing

export interface CatalogueEntry {
  status: number;
  title: string;
  /** Why a client gets this problem (shown on the problem type's page and in the OpenAPI document). */
  explanation: string;
  /** What the client should do, in a sentence. */
  clientAction: string;
  action: ClientAction;
  /** Response headers that come with this problem, besides the trace headers every response has. */
  headers?: readonly string[];
}

const SAME_KEY = 'A retry of the same request may reuse its Idempotency-Key.';
const NEW_KEY =
  'Only a changed request needs a new Idempotency-Key (the old key stays bound to the old payload).';

export const catalogue = {
  validation_failed: {
    status: 400,
    title: 'Request validation failed',
    explanation:
      'A path parameter or a body field is missing, unknown or out of range; invalid-params names each one.',
    clientAction: `Fix the fields listed in invalid-params and send the request again. ${NEW_KEY}`,
    action: 'fix-request',
  },
  malformed_json: {
    status: 400,
    title: 'Malformed JSON body',
    explanation: 'The request body is not valid JSON.',
    clientAction: `Send a well-formed JSON body with Content-Type: application/json. ${NEW_KEY}`,
    action: 'fix-request',
  },
  bad_parameter: {
    status: 400,
    title: 'Invalid query parameter',
    explanation:
      'A query or path parameter (or the Booking-Checkpoint header, or a cursor) is invalid, unknown or out of range; invalid-params names each one.',
    clientAction:
      'Fix the parameters listed in invalid-params; use cursors only with the query that returned them.',
    action: 'fix-request',
  },
  bad_request: {
    status: 400,
    title: 'Bad request',
    explanation:
      'The request is not valid HTTP/1.1 (the server could not parse its request line or headers).',
    clientAction: 'Send a well-formed HTTP request.',
    action: 'fix-request',
  },
  idempotency_key_missing: {
    status: 400,
    title: 'Idempotency-Key header is required',
    explanation: 'Every command (POST) must carry an Idempotency-Key so that a retry is never applied twice.',
    clientAction:
      'Generate a key (a UUID) per logical request, send it, and reuse it when retrying that request.',
    action: 'fix-request',
  },
  idempotency_key_invalid: {
    status: 400,
    title: 'Idempotency-Key header is malformed',
    explanation:
      'The Idempotency-Key is not 1-255 printable ASCII characters (bare or as a quoted structured-field string).',
    clientAction: 'Send a key of 1-255 printable ASCII characters, e.g. a UUID.',
    action: 'fix-request',
  },
  unauthenticated: {
    status: 401,
    title: 'Authentication required',
    explanation:
      'The bearer token is missing, malformed, expired, wrongly signed or under an unknown key (kid), from another issuer (iss) or audience (aud), lives longer than allowed (exp - iat), or lacks a valid sub or role claim; detail says which.',
    clientAction:
      'Obtain a fresh HS256 JWT with sub, role, iss, aud, iat and exp, send it as Authorization: Bearer <token>, then retry.',
    action: 'authenticate',
    headers: ['WWW-Authenticate'],
  },
  forbidden: {
    status: 403,
    title: 'Not allowed',
    explanation:
      "The principal may not do this: its role is not allowed here, a patient acted for someone else (booking, cancelling or reading another patient's appointment), or a hospital acted for another institution (a schedule of another institution, or opening one for it).",
    clientAction:
      'Do not retry with the same token; act only for yourself, or use an account with the needed role.',
    action: 'do-not-retry',
  },
  not_found: {
    status: 404,
    title: 'Resource not found',
    explanation: 'No route matches the request path.',
    clientAction: 'Check the path against the OpenAPI document (/openapi.json).',
    action: 'fix-request',
  },
  schedule_not_found: {
    status: 404,
    title: 'Schedule not found',
    explanation: 'No schedule has this id.',
    clientAction: 'Check the schedule id (e.g. from GET /v1/doctors/{id}/schedules on the query API).',
    action: 'do-not-retry',
  },
  appointment_not_found: {
    status: 404,
    title: 'Appointment not found',
    explanation:
      'No appointment has this id. On the query API a just-booked appointment may not be projected yet: send the Booking-Checkpoint the command returned.',
    clientAction:
      'Check the id; right after booking, read with the Booking-Checkpoint header to wait for your write.',
    action: 'do-not-retry',
  },
  patient_not_found: {
    status: 404,
    title: 'Patient not found',
    explanation:
      'No data key exists for this patient: they never booked, or they were already forgotten (their identity is unrecoverable).',
    clientAction: 'Nothing to forget; do not retry.',
    action: 'do-not-retry',
  },
  institution_not_found: {
    status: 404,
    title: 'Institution not found',
    explanation: 'No institution has this id.',
    clientAction: 'Check the id (from GET /v1/institutions or search).',
    action: 'do-not-retry',
  },
  doctor_not_found: {
    status: 404,
    title: 'Doctor not found',
    explanation: 'No doctor has this id and no schedule of it exists in the range.',
    clientAction: 'Check the doctor id.',
    action: 'do-not-retry',
  },
  method_not_allowed: {
    status: 405,
    title: 'Method not allowed',
    explanation: 'The path exists but not with this method; the Allow header lists the methods it supports.',
    clientAction: 'Use a method from the Allow header.',
    action: 'fix-request',
    headers: ['Allow'],
  },
  idempotency_key_in_flight: {
    status: 409,
    title: 'A request with this Idempotency-Key is still being processed',
    explanation:
      'An earlier request with the same key has not finished yet (or its server died less than a lease ago).',
    clientAction: `Wait Retry-After seconds and retry with the same key and payload: you will get that request's outcome. ${SAME_KEY}`,
    action: 'retry-later',
    headers: ['Retry-After'],
  },
  schedule_full: {
    status: 409,
    title: 'Schedule is fully booked',
    explanation: 'Every place of the schedule is taken.',
    clientAction:
      'Do not retry the same booking; offer another schedule (places may free up if someone cancels).',
    action: 'do-not-retry',
  },
  already_booked: {
    status: 409,
    title: 'Patient already holds an active appointment on this schedule',
    explanation: 'A patient may hold one active appointment per schedule; detail names it.',
    clientAction: 'Do not retry; show the existing appointment.',
    action: 'do-not-retry',
  },
  schedule_closed: {
    status: 409,
    title: 'Schedule is closed',
    explanation: 'The schedule was closed (by the hospital); nothing can be booked or changed on it.',
    clientAction: 'Do not retry; offer another schedule.',
    action: 'do-not-retry',
  },
  schedule_already_exists: {
    status: 409,
    title: 'Schedule already exists',
    explanation: 'A schedule with the client-chosen scheduleId exists already.',
    clientAction: `Choose another scheduleId, or omit it to let the server pick one. ${NEW_KEY}`,
    action: 'fix-request',
  },
  session_started: {
    status: 409,
    title: 'Session has already started',
    explanation:
      'The session of the schedule has begun (or lies in the past): it can no longer be booked or opened.',
    clientAction: 'Do not retry; offer a later session.',
    action: 'do-not-retry',
  },
  appointment_not_active: {
    status: 409,
    title: 'Appointment is not active',
    explanation: 'The appointment was cancelled already (by the patient, the hospital or a closed schedule).',
    clientAction: 'Do not retry; treat the appointment as cancelled.',
    action: 'do-not-retry',
  },
  capacity_below_active: {
    status: 409,
    title: 'Capacity cannot drop below the active appointment count',
    explanation:
      'The new capacity is smaller than the number of active appointments; detail says how many are active.',
    clientAction: `Choose a capacity of at least the active count (or cancel appointments first). ${NEW_KEY}`,
    action: 'fix-request',
  },
  session_already_scheduled: {
    status: 409,
    title: 'The session already has an open schedule',
    explanation:
      'A doctor has at most one open schedule per date and period; another schedule is open for this doctorId, date and period (detail names it, invalid-params the fields).',
    clientAction: `Do not open it again: change the open schedule's capacity, or close it first, or choose another date or period. ${NEW_KEY}`,
    action: 'fix-request',
  },
  concurrency_conflict: {
    status: 409,
    title: 'Concurrent modification, retry',
    explanation: 'The schedule changed concurrently too many times in a row for the command to commit.',
    clientAction: `Retry the same request shortly. ${SAME_KEY}`,
    action: 'retry-later',
  },
  slot_taken: {
    status: 409,
    title: 'Slot is taken',
    explanation: 'The numbered slot asked for is held or confirmed for another patient.',
    clientAction: 'Do not retry the same slot; book another slot, or omit slot to take the next free one.',
    action: 'do-not-retry',
  },
  slot_reserved: {
    status: 409,
    title: 'Slot is reserved for another channel',
    explanation:
      'The numbered slot is kept for one channel (on-site, follow-up, …) until its release time; detail says which and until when.',
    clientAction: 'Book another slot, or this one after its release time (detail).',
    action: 'do-not-retry',
  },
  hold_not_expired: {
    status: 409,
    title: 'The hold has not expired yet',
    explanation: "A hold's expiry was fired before its deadline (a clock behind the database's).",
    clientAction: 'Retry after the deadline the detail gives.',
    action: 'retry-later',
  },
  hold_expired: {
    status: 409,
    title: 'The hold expired',
    explanation:
      'The payment arrived after the hold expired: the slot went back to the pool (or to the waitlist).',
    clientAction: 'Do not retry; refund the payment, and book again if the patient still wants a slot.',
    action: 'do-not-retry',
  },
  payment_ref_conflict: {
    status: 409,
    title: 'The appointment was paid by another payment',
    explanation: 'The appointment is already confirmed by a payment with another reference.',
    clientAction: 'Do not retry; refund this payment (the first one confirmed the appointment).',
    action: 'do-not-retry',
  },
  not_confirmed: {
    status: 409,
    title: 'The appointment is not confirmed',
    explanation: 'Check-in and no-show apply to confirmed appointments only (a hold must be paid first).',
    clientAction: 'Do not retry; confirm the payment first, or look at the appointment.',
    action: 'do-not-retry',
  },
  too_early: {
    status: 409,
    title: 'Too early',
    explanation:
      "Check-in opens at 00:00 of the session's day; a no-show may be marked only after the last slot ends; detail says when.",
    clientAction: 'Retry at or after the time the detail gives.',
    action: 'retry-later',
  },
  already_waitlisted: {
    status: 409,
    title: 'Already on the waitlist',
    explanation: 'The patient is already waiting for this schedule; detail names the entry.',
    clientAction: 'Do not retry; the patient keeps their place.',
    action: 'do-not-retry',
  },
  slot_available: {
    status: 409,
    title: 'A slot is free: book it',
    explanation:
      "The schedule has a slot the patient's channel may take; the waitlist is for full schedules.",
    clientAction: 'Book the schedule instead of joining its waitlist.',
    action: 'do-not-retry',
  },
  one_per_doctor_per_day: {
    status: 409,
    title: 'One appointment per doctor per day',
    explanation:
      'The patient already has an active appointment with this doctor on this day (across schedules); detail names it.',
    clientAction: 'Do not retry; show the existing appointment, or cancel it first.',
    action: 'do-not-retry',
  },
  too_many_active: {
    status: 409,
    title: 'Too many active appointments',
    explanation: 'The patient holds as many active appointments as allowed (PATIENT_MAX_ACTIVE).',
    clientAction: 'Do not retry until an appointment of the patient ends or is cancelled.',
    action: 'do-not-retry',
  },
  no_show_limited: {
    status: 409,
    title: 'Booking limited after no-shows',
    explanation:
      'The patient missed appointments too often (NO_SHOW_LIMIT within NO_SHOW_WINDOW_DAYS); detail says how many since when.',
    clientAction: 'Do not retry; the patient may book again once older no-shows leave the window.',
    action: 'do-not-retry',
  },
  waitlist_entry_not_found: {
    status: 404,
    title: 'Waitlist entry not found',
    explanation:
      'No waiting entry has this id on this schedule (it may have left, or become an appointment).',
    clientAction: 'Check the entry id; do not retry.',
    action: 'do-not-retry',
  },
  not_numbered: {
    status: 422,
    title: 'The schedule has no numbered slots',
    explanation:
      'Slots, holds, payments, the waitlist, check-in and no-show apply to schedules opened with slots only.',
    clientAction:
      'Use these commands on a numbered schedule only (omit slot and channel when booking this one).',
    action: 'fix-request',
  },
  slot_not_found: {
    status: 422,
    title: 'No such slot',
    explanation: 'The slot number is outside 1..count of the schedule.',
    clientAction: `Choose a slot the schedule has, or omit slot. ${NEW_KEY}`,
    action: 'fix-request',
  },
  payment_amount_mismatch: {
    status: 422,
    title: 'Payment amount differs from the fee',
    explanation: "The amount paid is not the schedule's fee; detail gives both.",
    clientAction: `Do not confirm with this amount; refund it, or send the right amount. ${NEW_KEY}`,
    action: 'fix-request',
  },
  booking_closed: {
    status: 422,
    title: 'Booking is closed',
    explanation:
      'The booking cut-off (BOOKING_CUTOFF_MINUTES before the session starts) has passed: no booking and no waitlist.',
    clientAction: 'Do not retry; offer a later session.',
    action: 'do-not-retry',
  },
  cancellation_closed: {
    status: 422,
    title: 'Too late for a patient to cancel',
    explanation:
      'A patient may cancel until CANCELLATION_CUTOFF_MINUTES before their slot; later, only the hospital can.',
    clientAction: 'Do not retry; contact the hospital.',
    action: 'do-not-retry',
  },
  payload_too_large: {
    status: 413,
    title: 'Request body too large',
    explanation: 'The request body exceeds 64 KiB.',
    clientAction: 'Send a smaller body (commands are small JSON objects).',
    action: 'fix-request',
  },
  unsupported_media_type: {
    status: 415,
    title: 'Unsupported media type',
    explanation: 'The request body is not JSON (or uses an unsupported charset or content encoding).',
    clientAction: 'Send the body as UTF-8 JSON with Content-Type: application/json.',
    action: 'fix-request',
  },
  idempotency_key_reused: {
    status: 422,
    title: 'Idempotency-Key reused with a different payload',
    explanation:
      'This key was used before (by the same principal, within 24 hours) for a different method, path or body.',
    clientAction:
      'Send a new Idempotency-Key for a new request; reuse a key only to retry the very same request.',
    action: 'fix-request',
  },
  catalog_reference_invalid: {
    status: 422,
    title: 'The request refers to the catalog wrongly',
    explanation:
      'A doctor, institution or department id is unknown to the catalog, the doctor is not in that institution and department, or the doctor or institution is not active; invalid-params names the field.',
    clientAction: `Use the ids of an active doctor of the institution and department (GET /v1/institutions/{id}/departments on the query API). ${NEW_KEY}`,
    action: 'fix-request',
  },
  date_outside_horizon: {
    status: 422,
    title: 'Date outside the booking horizon',
    explanation:
      "The date lies before the hospital's today (Asia/Shanghai) or further ahead than the booking horizon (BOOKING_HORIZON_DAYS, 90 days by default); detail gives the allowed range.",
    clientAction: `Choose a date within the range the detail gives. ${NEW_KEY}`,
    action: 'fix-request',
  },
  request_header_too_large: {
    status: 431,
    title: 'Request header fields too large',
    explanation: 'The request line (the URL) and headers together exceed the server limit (16 KiB).',
    clientAction: 'Send a shorter URL (fewer or shorter query parameters) or smaller headers.',
    action: 'fix-request',
  },
  too_many_requests: {
    status: 429,
    title: 'Too many requests',
    explanation:
      'The principal used up its request budget (per patient, per minute); the RateLimit-* headers describe it.',
    clientAction: `Wait Retry-After seconds, then retry. ${SAME_KEY}`,
    action: 'retry-later',
    headers: ['Retry-After', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'],
  },
  flow_limited: {
    status: 429,
    title: 'Request refused by flow control',
    explanation:
      'A flow rule of this route refused the request: too many requests to it per second (or while it warms up after a quiet spell), too many in flight, too many from this client or for this parameter value, or a paced queue that is full; detail names the rule, the RateLimit-* headers the limit when it has one.',
    clientAction: `Wait Retry-After seconds, then retry; slow down if it keeps happening. ${SAME_KEY}`,
    action: 'retry-later',
    headers: ['Retry-After', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'],
  },
  system_overloaded: {
    status: 503,
    title: 'The server is overloaded',
    explanation:
      'The process sheds load to stay responsive (its event loop lags, or more requests are in flight than it has recently been able to serve); the request was refused before anything was read or changed.',
    clientAction: `Wait Retry-After seconds, then retry (another instance may answer at once). ${SAME_KEY}`,
    action: 'retry-later',
    headers: ['Retry-After'],
  },
  dependency_unavailable: {
    status: 503,
    title: 'A dependency is unavailable',
    explanation:
      'A database, Redis or the search engine the request needs is unreachable; nothing was changed.',
    clientAction: `Wait Retry-After seconds, then retry. ${SAME_KEY}`,
    action: 'retry-later',
    headers: ['Retry-After'],
  },
  flow_rules_invalid: {
    status: 422,
    title: 'Invalid flow rules',
    explanation:
      'The flow rules document sent to PUT /v1/admin/flow-rules does not validate (an unknown rule kind, a count out of range, a paced rule not last…); invalid-params names each field by its path.',
    clientAction:
      'Fix the fields listed in invalid-params and send the document again (with the same version).',
    action: 'fix-request',
  },
  flow_rules_version_conflict: {
    status: 409,
    title: 'The flow rules changed meanwhile',
    explanation:
      'The version sent with PUT /v1/admin/flow-rules is not the current one: someone else replaced the rules since they were read.',
    clientAction:
      'Read the rules again (GET /v1/admin/flow-rules), apply your change to them and send them with the version read.',
    action: 'fix-request',
  },
  internal: {
    status: 500,
    title: 'Internal server error',
    explanation: 'An unexpected error; it is logged with the traceId of the problem.',
    clientAction: `Retry later (with the same Idempotency-Key for a command); report the traceId if it persists. ${SAME_KEY}`,
    action: 'retry-later',
  },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof catalogue;

export const errorCodes = Object.keys(catalogue) as ErrorCode[];

export const isErrorCode = (value: string): value is ErrorCode => Object.hasOwn(catalogue, value);

/**
 * Where problem types live: `<base><code>`. The default is origin-relative (`/problems/`): a
 * client resolves the type against the URL it called (RFC 9457 §3.1.1), so it points at the page
 * each API serves for it (problem-pages.ts). PROBLEM_BASE_URL (problem-base.ts) makes it absolute.
 */
export const DEFAULT_PROBLEM_BASE = '/problems/';

export const problemTypeUri = (code: ErrorCode, base: string = DEFAULT_PROBLEM_BASE): string =>
  `${base}${code}`;

export interface InvalidParam {
  name: string;
  reason: string;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly detail: string | undefined;
  readonly invalidParams: InvalidParam[] | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(
    code: ErrorCode,
    detail?: string,
    opts: { invalidParams?: InvalidParam[]; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(detail ?? catalogue[code].title, { cause: opts.cause });
    this.name = 'AppError';
    this.code = code;
    this.detail = detail;
    this.invalidParams = opts.invalidParams;
    this.headers = opts.headers;
  }

  get status(): number {
    return catalogue[this.code].status;
  }
}

export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail?: string;
  instance?: string;
  traceId?: string;
  'invalid-params'?: InvalidParam[];
}

/**
 * How much of the request a problem may echo: an error body stays small whatever the client sent
 * (a 16 KiB URL or a thousand unknown query parameters must not come back multiplied).
 */
export const PROBLEM_LIMITS = {
  instance: 256,
  detail: 512,
  invalidParams: 20,
  paramName: 128,
  paramReason: 256,
} as const;

/** At most `max` characters: the rest replaced by an ellipsis (never splitting a surrogate pair). */
export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  let cut = max - 1;
  const code = s.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
  return `${s.slice(0, cut)}…`;
}

/** The first PROBLEM_LIMITS.invalidParams entries, each name and reason bounded. */
export function boundedInvalidParams(params: readonly InvalidParam[]): InvalidParam[] {
  return params.slice(0, PROBLEM_LIMITS.invalidParams).map((p) => ({
    name: truncate(p.name, PROBLEM_LIMITS.paramName),
    reason: truncate(p.reason, PROBLEM_LIMITS.paramReason),
  }));
}

/** What a problem document is rendered from: an AppError, or a plain refusal that captured no stack. */
export type ProblemSource = Pick<AppError, 'code' | 'detail' | 'invalidParams'>;

export function toProblem(
  err: ProblemSource,
  instance?: string,
  traceId?: string,
  problemBase?: string,
): ProblemDocument {
  const entry = catalogue[err.code];
  return {
    type: problemTypeUri(err.code, problemBase),
    title: entry.title,
    status: entry.status,
    code: err.code,
    ...(err.detail ? { detail: truncate(err.detail, PROBLEM_LIMITS.detail) } : {}),
    ...(instance ? { instance: truncate(instance, PROBLEM_LIMITS.instance) } : {}),
    ...(traceId ? { traceId } : {}),
    ...(err.invalidParams ? { 'invalid-params': boundedInvalidParams(err.invalidParams) } : {}),
  };
}
