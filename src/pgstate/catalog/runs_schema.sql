-- Where pgstate records its runs, in the target database itself. Created on the first apply.
CREATE SCHEMA IF NOT EXISTS pgstate;
CREATE TABLE IF NOT EXISTS pgstate.runs (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at    timestamptz,
    status         text NOT NULL CHECK (status IN ('running', 'applied', 'failed', 'rolled back', 'interrupted')),
    pgstate_version text NOT NULL,
    desired_commit text,
    desired_dirty  boolean,
    fingerprint    text NOT NULL,
    plan           jsonb NOT NULL,
    pre_state      jsonb NOT NULL,
    backup         text,
    error          text
);
