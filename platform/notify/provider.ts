/**
 * The notification provider port (docs/adr/0014): what the notifier hands a message to. A local
 * provider records messages (local-provider.ts); an SMS gateway or an app-push service plugs in
 * behind the same interface. Every message carries an idempotency key: a provider must deliver a
 * key at most once (the notifier may hand the same message over again after a crash).
 */

export const notificationKinds = [
  'hold_reminder',
  'waitlist_offer',
  'confirmation',
  'cancelled_by_hospital',
  'day_before',
] as const;
export type NotificationKind = (typeof notificationKinds)[number];

export interface OutgoingNotification {
  /** Unique per notification ('<kind>:<event id>'); the same key again must not reach the patient twice. */
  idempotencyKey: string;
  kind: NotificationKind;
  /** Who: the patient's id, unsealed at send time (a push service addresses their account by it). */
  recipient: string;
  /** The text the patient reads. */
  body: string;
  /** Structured fields (appointment, slot, times) for a template or an app. */
  data: Record<string, unknown>;
}

export interface ProviderReceipt {
  /** The provider's id of the message (for support and reconciliation). */
  messageId: string;
}

export interface NotificationProvider {
  /** Short name, recorded beside each sent notification. */
  readonly name: string;
  /** Delivers, or throws (the notifier retries with backoff, the same idempotency key). */
  send(message: OutgoingNotification): Promise<ProviderReceipt>;
}
