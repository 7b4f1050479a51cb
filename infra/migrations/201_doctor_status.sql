-- Whether a doctor takes sessions: the command API opens schedules only for active doctors (of an
-- active institution). The column flows through CDC into the doctor documents like any other.

ALTER TABLE doctors
  ADD COLUMN status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive'));
