-- The notification outbox (docs/adr/0014). The notifier (notifications/) reads the event store in
-- its global order and, in one transaction with its checkpoint, records who to reach for each
-- appointment (sealed, unsealed only at send time) and the notifications the events call for.
-- Timed ones (a hold's reminder, the day-before reminder) wait in the same table until due_at:
-- the deadlines pattern of migration 009 (claim FOR UPDATE SKIP LOCKED, lease in claimed_until).

CREATE TABLE notifier_checkpoints (
  name        text        PRIMARY KEY,
  -- opaque event-store checkpoint of the last event planned
  checkpoint  text        NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The contact of an appointment's patient: the sealed identity of its AppointmentBooked (or the
-- waitlist entry an offer came from). Deleted when the patient is forgotten.
CREATE TABLE notification_contacts (
  appointment_id  text        PRIMARY KEY,
  patient_ref     text        NOT NULL,
  patient_sealed  text        NOT NULL,
  recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notification_contacts_patient ON notification_contacts (patient_ref);

CREATE TABLE notifications (
  -- '<kind>:<id of the event that called for it>': the unique key, and the provider's idempotency key.
  id                   text        PRIMARY KEY,
  kind                 text        NOT NULL CHECK (kind IN
                         ('hold_reminder', 'waitlist_offer', 'confirmation', 'cancelled_by_hospital', 'day_before')),
  appointment_id       text        NOT NULL,
  patient_ref          text        NOT NULL,
  due_at               timestamptz NOT NULL,
  -- waiting: a timed one not armed yet (a day-before reminder of an unpaid hold);
  -- pending: to send at due_at; sent; skipped (no longer relevant, or the patient forgotten); failed.
  status               text        NOT NULL CHECK (status IN ('waiting', 'pending', 'sent', 'skipped', 'failed')),
  payload              jsonb       NOT NULL,
  attempts             integer     NOT NULL DEFAULT 0,
  claimed_until        timestamptz,
  claimed_by           text,
  provider             text,
  provider_message_id  text,
  last_error           text,
  created_at           timestamptz NOT NULL DEFAULT now(),
  sent_at              timestamptz
);
CREATE INDEX notifications_due ON notifications (due_at) WHERE status = 'pending';
CREATE INDEX notifications_appointment ON notifications (appointment_id);

-- What the local provider "sent" (platform/notify/local-provider.ts): the tests and a developer
-- read it. Unique by the idempotency key, as a real SMS or push provider deduplicates by it.
CREATE TABLE notification_messages (
  idempotency_key  text        PRIMARY KEY,
  kind             text        NOT NULL,
  recipient        text        NOT NULL,
  body             text        NOT NULL,
  data             jsonb       NOT NULL,
  received         integer     NOT NULL DEFAULT 1,
  sent_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notification_messages_recipient ON notification_messages (recipient);
