-- Durable position of each relay (event store → Kafka) in the event store's global order.
-- The relay moves it only after Kafka acknowledged every event up to it (acks=all), so after a
-- crash it resumes with no loss and re-publishes at most one batch. See docs/adr/0003.

CREATE TABLE relay_checkpoints (
  name        text        PRIMARY KEY,
  -- opaque event-store checkpoint of the last published event
  checkpoint  text        NOT NULL,
  published   bigint      NOT NULL DEFAULT 0,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
