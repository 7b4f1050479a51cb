/**
 * The local provider: "sends" by recording the message in `notification_messages` (migration 011),
 * where a developer or a test reads it. Deduplicates by the idempotency key as a real provider
 * would: the same key again counts a repeat (`received`) and delivers nothing new.
 */
import type { Queryable } from '../pg.ts';
import type { NotificationProvider, OutgoingNotification, ProviderReceipt } from './provider.ts';

export class PgLocalProvider implements NotificationProvider {
  readonly name = 'local';
  readonly #db: Queryable;

  constructor(db: Queryable) {
    this.#db = db;
  }

  async send(m: OutgoingNotification): Promise<ProviderReceipt> {
    await this.#db.query({
      name: 'notification_messages_record',
      text: `INSERT INTO notification_messages (idempotency_key, kind, recipient, body, data)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (idempotency_key) DO UPDATE SET received = notification_messages.received + 1`,
      values: [m.idempotencyKey, m.kind, m.recipient, m.body, JSON.stringify(m.data)],
    });
    return { messageId: `local:${m.idempotencyKey}` };
  }
}
