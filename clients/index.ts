/**
 * Typed clients of the booking APIs for our users: openapi-fetch over the types generated from
 * the APIs' OpenAPI documents (command-api.d.ts, query-api.d.ts), so paths, parameters, headers
 * (Idempotency-Key is required on every command), bodies and responses — problems included —
 * are checked by the compiler.
 *
 *   const commands = createCommandApiClient({ baseUrl: 'http://127.0.0.1:3001', token });
 *   const { data, error, response } = await commands.POST('/v1/appointments', {
 *     params: { header: { 'Idempotency-Key': crypto.randomUUID() } },
 *     body: { scheduleId, patientId },
 *   });
 *   // data: the 201 body, or error: the problem (error.code, error.type → /problems/<code>)
 */
import createClient, { type Client, type ClientOptions, type Middleware } from 'openapi-fetch';
import type { operations as CommandApiOperations, paths as CommandApiPaths } from './command-api.d.ts';
import type { operations as QueryApiOperations, paths as QueryApiPaths } from './query-api.d.ts';

export type { CommandApiOperations, CommandApiPaths, QueryApiOperations, QueryApiPaths };

/** The JSON body of a command, by operationId: `CommandBody<'bookAppointment'>`. */
export type CommandBody<Op extends keyof CommandApiOperations> = NonNullable<
  CommandApiOperations[Op]['requestBody']
>['content']['application/json'];
export type CommandApiClient = Client<CommandApiPaths>;
export type QueryApiClient = Client<QueryApiPaths>;

export interface BookingClientOptions extends Omit<ClientOptions, 'baseUrl'> {
  baseUrl: string;
  /** A bearer JWT, or a function returning the current one (called per request). */
  token?: string | (() => string | Promise<string>);
}

const bearer = (token: NonNullable<BookingClientOptions['token']>): Middleware => ({
  async onRequest({ request }) {
    request.headers.set('Authorization', `Bearer ${typeof token === 'string' ? token : await token()}`);
    return request;
  },
});

function withAuth<P extends object>(client: Client<P>, token: BookingClientOptions['token']): Client<P> {
  if (token !== undefined) client.use(bearer(token));
  return client;
}

export function createCommandApiClient({ token, ...options }: BookingClientOptions): CommandApiClient {
  return withAuth(createClient<CommandApiPaths>(options), token);
}

export function createQueryApiClient({ token, ...options }: BookingClientOptions): QueryApiClient {
  return withAuth(createClient<QueryApiPaths>(options), token);
}
