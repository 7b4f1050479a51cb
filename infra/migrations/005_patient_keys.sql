-- Per-patient data keys (docs/adr/0010-patient-data-crypto-shredding.md). Write side only: not in
-- the catalog publication (connectors/ captures catalog tables by name), never projected.
-- patient_ref is the opaque reference events carry instead of the patient's id; wrapped_key is
-- the random 256-bit data key, AES-256-GCM under PATIENT_KEK (iv | tag | ciphertext). Forgetting
-- a patient deletes the row: every copy sealed with the key becomes unreadable.

CREATE TABLE patient_keys (
  patient_ref  uuid        PRIMARY KEY,
  patient_id   text        NOT NULL UNIQUE,
  wrapped_key  bytea       NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);

-- The query API authorises GET /v1/appointments/{id} from the command side's index alone: the
-- appointment's institution (tenancy) and its holder's reference. NULL on rows indexed before
-- this migration (the query API then falls back to the read model for them).
ALTER TABLE appointment_index
  ADD COLUMN institution_id text,
  ADD COLUMN patient_ref    uuid;
