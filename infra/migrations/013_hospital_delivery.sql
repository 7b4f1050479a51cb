-- Hospital integration (docs/adr/0016): appointment events delivered to each institution's own
-- system (its HIS), in a per-institution, gap-free sequence, through an outbox.
--
-- None of these tables is in the catalog publication (connectors/catalog-source.json lists its
-- tables one by one), so Debezium copies none of them; the signing secrets live in a schema of
-- their own as well, so no future "whole public schema" publication can pick them up.

-- Where and how fast each institution is delivered to. The delivery worker re-reads this table
-- every DELIVERY_CONFIG_POLL_MS (≤ 2 s): a change takes effect without a restart. An institution
-- without a row is not integrated (its events are not queued); enabled = false holds its queue.
CREATE TABLE institution_endpoints (
  institution_id    text        PRIMARY KEY,
  url               text        NOT NULL CHECK (url ~ '^https?://'),
  enabled           boolean     NOT NULL DEFAULT true,
  rate_limit_per_s  integer     NOT NULL DEFAULT 50 CHECK (rate_limit_per_s > 0),
  max_concurrency   integer     NOT NULL DEFAULT 1 CHECK (max_concurrency > 0),
  timeout_ms        integer     NOT NULL DEFAULT 5000 CHECK (timeout_ms > 0),
  updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE SCHEMA IF NOT EXISTS delivery_private;

-- The HMAC-SHA256 key a hospital verifies deliveries with. Read by the delivery worker only; never
-- on a topic, in Redis, in an index or in the admin API.
CREATE TABLE delivery_private.institution_signing_secrets (
  institution_id  text        PRIMARY KEY,
  secret          text        NOT NULL CHECK (length(secret) >= 16),
  updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Per institution: the last sequence number handed out (the row lock makes numbering gap-free:
-- a rolled-back transaction gives its number back) and which worker sends its deliveries now.
CREATE TABLE delivery_sequences (
  institution_id  text        PRIMARY KEY,
  last_seq        bigint      NOT NULL CHECK (last_seq >= 0),
  leased_by       text,
  leased_until    timestamptz
);

CREATE TABLE delivery_outbox (
  institution_id    text        NOT NULL,
  seq               bigint      NOT NULL CHECK (seq > 0),
  -- One delivery per event: a redelivered Kafka record finds its row and gets no new number.
  event_id          uuid        NOT NULL UNIQUE,
  global_position   text        NOT NULL,
  event_type        text        NOT NULL,
  -- What the hospital receives, but the patient's identity sealed (opened at send time only).
  payload           jsonb       NOT NULL,
  traceparent       text,
  status            text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'parked')),
  attempts          integer     NOT NULL DEFAULT 0,
  first_attempt_at  timestamptz,
  next_attempt_at   timestamptz NOT NULL DEFAULT now(),
  last_error        text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  delivered_at      timestamptz,
  PRIMARY KEY (institution_id, seq)
);
CREATE INDEX delivery_outbox_open ON delivery_outbox (institution_id, seq) WHERE status <> 'delivered';
