-- Idempotency-Key records (IETF httpapi draft + Stripe semantics), scoped per principal.
-- A row is claimed 'in_flight' in its own short transaction, then completed with the response
-- in the SAME transaction that appends the command's events.

CREATE TABLE idempotency_keys (
  principal      text        NOT NULL,
  idem_key       text        NOT NULL,
  -- sha256 of method, path and canonical JSON body
  request_hash   text        NOT NULL,
  status         text        NOT NULL CHECK (status IN ('in_flight', 'completed')),
  -- owner of an in_flight claim; a stale claim (leased_at too old) can be taken over with a new token
  lease_token    uuid        NOT NULL,
  leased_at      timestamptz NOT NULL DEFAULT now(),
  -- the stored outcome, replayed for a retry: {kind:'response', status, headers, body} or {kind:'problem', ...}
  response       jsonb,
  created_at     timestamptz NOT NULL DEFAULT now(),
  completed_at   timestamptz,
  expires_at     timestamptz NOT NULL,
  PRIMARY KEY (principal, idem_key),
  CHECK ((status = 'completed') = (response IS NOT NULL))
);

CREATE INDEX idempotency_keys_expires_at_idx ON idempotency_keys (expires_at);
