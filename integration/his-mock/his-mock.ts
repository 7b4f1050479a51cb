/**
 * The reference receiver: what a hospital's system (HIS) implements to take the platform's
 * deliveries (docs/adr/0016, docs/hospital-delivery.md). A small node:http server that
 *  - verifies the HMAC-SHA256 signature over "<t>.<body>" (401 `bad_signature` on a tampered body)
 *    and the timestamp window (401 `stale_timestamp` beyond ±tolerance: an old delivery replayed);
 *  - applies each institution's deliveries by sequence number: a number it has seen answers
 *    200 `duplicate` and is not applied again; a jump records the gap (and is applied);
 *  - can be told to be slow (`latencyMs`), to fail (`failRate`: 503, half of them with
 *    Retry-After) or to vanish (`vanish('hang')`: accepts and never answers; `vanish('down')`:
 *    stops listening), and to come back (`revive()`).
 * The tests and the benchmark start it in-process (`startHisMock`); `npm run his:mock` runs one.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { verifySignature } from './signature.ts';

export interface HisMockOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /** The signing secret, or one per institution (undefined: unknown institution, 401). */
  secret: string | ((institutionId: string) => string | undefined);
  latencyMs?: number;
  /** Share of deliveries answered 503 before anything is checked (0–1). */
  failRate?: number;
  /** Seconds of the Retry-After sent with every other 503. Default 1. */
  retryAfterSeconds?: number;
  /** Accepted clock difference of the signature's timestamp, seconds. Default 300. */
  toleranceSeconds?: number;
  random?: () => number;
  nowMs?: () => number;
}

/** A delivery the receiver applied, in the order it applied them. */
export interface ReceivedDelivery {
  institutionId: string;
  seq: number;
  idempotencyKey: string;
  eventId: string;
  type: string;
  data: Record<string, unknown>;
  traceparent: string | undefined;
  receivedAt: number;
  /** The body as it arrived (for contract checks: contracts/hospital-receiver.openapi.yaml). */
  wire: Record<string, unknown>;
}

export interface Refusal {
  status: number;
  reason: string;
}

export interface HisMock {
  readonly url: string;
  readonly port: number;
  /** Applied deliveries in order: one institution's, or all. */
  applied(institutionId?: string): ReceivedDelivery[];
  /** Deliveries answered `duplicate` (seen before by sequence number). */
  readonly duplicates: { institutionId: string; seq: number }[];
  /** Sequence numbers skipped: `expected` was due, `got` arrived. */
  readonly gaps: { institutionId: string; expected: number; got: number }[];
  readonly refusals: Refusal[];
  /** Every request that reached the handler (answered or not). */
  requests(): number;
  setLatency(ms: number): void;
  setFailRate(rate: number): void;
  vanish(mode: 'hang' | 'down'): Promise<void>;
  revive(): Promise<void>;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1 << 20;

interface DeliveryBody {
  institutionId: string;
  seq: number;
  idempotencyKey: string;
  eventId: string;
  type: string;
  data: Record<string, unknown>;
}

function parseBody(raw: Buffer): DeliveryBody | undefined {
  try {
    const b = JSON.parse(raw.toString('utf8')) as Partial<DeliveryBody>;
    const ok =
      typeof b.institutionId === 'string' &&
      Number.isSafeInteger(b.seq) &&
      typeof b.idempotencyKey === 'string' &&
      typeof b.eventId === 'string' &&
      typeof b.type === 'string' &&
      typeof b.data === 'object' &&
      b.data !== null;
    return ok ? (b as DeliveryBody) : undefined;
  } catch {
    return undefined;
  }
}

function readRaw(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) chunks.push(c);
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks)));
    req.on('error', () => resolve(undefined));
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function startHisMock(opts: HisMockOptions): Promise<HisMock> {
  const host = opts.host ?? '127.0.0.1';
  const random = opts.random ?? Math.random;
  const nowMs = opts.nowMs ?? Date.now;
  const tolerance = opts.toleranceSeconds ?? 300;
  const secretOf = typeof opts.secret === 'string' ? () => opts.secret as string : opts.secret;
  let latencyMs = opts.latencyMs ?? 0;
  let failRate = opts.failRate ?? 0;
  let hanging = false;
  let requestCount = 0;
  let failures = 0;
  const applied: ReceivedDelivery[] = [];
  const lastSeq = new Map<string, number>();
  const duplicates: HisMock['duplicates'] = [];
  const gaps: HisMock['gaps'] = [];
  const refusals: Refusal[] = [];
  const sockets = new Set<Socket>();

  const answer = (res: ServerResponse, status: number, body: Record<string, unknown>, headers = {}) => {
    if (status >= 400) refusals.push({ status, reason: String(body.error ?? body.status) });
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  };

  const accept = (req: IncomingMessage, raw: Buffer, res: ServerResponse) => {
    const claimed = req.headers['x-booking-institution'];
    const secret = typeof claimed === 'string' ? secretOf(claimed) : undefined;
    if (!secret) return answer(res, 401, { error: 'unknown_institution' });
    const verdict = verifySignature(
      req.headers['x-booking-signature'] as string | undefined,
      raw,
      secret,
      Math.floor(nowMs() / 1000),
      tolerance,
    );
    if (!verdict.ok) {
      const error = verdict.reason === 'stale' ? 'stale_timestamp' : 'bad_signature';
      return answer(res, 401, { error });
    }
    const body = parseBody(raw);
    if (!body || body.institutionId !== claimed) return answer(res, 400, { error: 'bad_body' });
    const last = lastSeq.get(body.institutionId) ?? 0;
    if (body.seq <= last) {
      duplicates.push({ institutionId: body.institutionId, seq: body.seq });
      return answer(res, 200, { status: 'duplicate', seq: body.seq });
    }
    if (body.seq !== last + 1)
      gaps.push({ institutionId: body.institutionId, expected: last + 1, got: body.seq });
    lastSeq.set(body.institutionId, body.seq);
    const tp = req.headers.traceparent;
    const wire = { ...body } as unknown as Record<string, unknown>;
    applied.push({
      ...body,
      traceparent: typeof tp === 'string' ? tp : undefined,
      receivedAt: nowMs(),
      wire,
    });
    return answer(res, 200, { status: 'applied', seq: body.seq });
  };

  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    requestCount += 1;
    const raw = await readRaw(req);
    if (hanging) return; // answered never; the socket is destroyed by revive() or close()
    if (latencyMs > 0) await sleep(latencyMs);
    if (hanging) return;
    if (req.method !== 'POST') return answer(res, 405, { error: 'method_not_allowed' });
    if (!raw) return answer(res, 413, { error: 'body_too_large' });
    if (failRate > 0 && random() < failRate) {
      failures += 1;
      const headers = failures % 2 === 0 ? { 'retry-after': String(opts.retryAfterSeconds ?? 1) } : {};
      return answer(res, 503, { error: 'unavailable' }, headers);
    }
    accept(req, raw, res);
  };

  let server: Server | undefined;
  let port = opts.port ?? 0;
  const listen = async () => {
    const s = createServer((req, res) => void handler(req, res));
    s.keepAliveTimeout = 5_000;
    s.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, host, () => resolve());
    });
    port = (s.address() as AddressInfo).port;
    server = s;
  };
  const stop = async () => {
    const s = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await listen();

  return {
    get url() {
      return `http://${host}:${port}/deliveries`;
    },
    get port() {
      return port;
    },
    applied: (institutionId) =>
      institutionId === undefined ? [...applied] : applied.filter((d) => d.institutionId === institutionId),
    duplicates,
    gaps,
    refusals,
    requests: () => requestCount,
    setLatency: (ms) => (latencyMs = ms),
    setFailRate: (rate) => (failRate = rate),
    vanish: async (mode) => {
      hanging = true;
      if (mode === 'down') await stop();
    },
    revive: async () => {
      hanging = false;
      for (const socket of sockets) socket.destroy();
      if (!server) await listen();
    },
    close: stop,
  };
}
