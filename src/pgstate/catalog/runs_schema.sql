-- Where pgstate records its runs, in the target database itself. Created on the first apply; later versions
-- only add to it (IF NOT EXISTS), so that an older history stays readable.
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
ALTER TABLE pgstate.runs ADD COLUMN IF NOT EXISTS rollback_of bigint REFERENCES pgstate.runs (id);
-- Settings and storage parameters pgstate set: when the desired files stop listing one, only these are reset.
CREATE TABLE IF NOT EXISTS pgstate.managed_settings (
    scope   text NOT NULL CHECK (scope IN ('database', 'table')),
    object  text NOT NULL,  -- the database's name, or the table as schema.name
    name    text NOT NULL,
    value   text NOT NULL,
    run_id  bigint REFERENCES pgstate.runs (id),
    PRIMARY KEY (scope, object, name)
);
CREATE TABLE IF NOT EXISTS pgstate.run_steps (
    run_id      bigint NOT NULL REFERENCES pgstate.runs (id),
    position    integer NOT NULL,
    action      text NOT NULL,
    target      text NOT NULL,
    status      text NOT NULL CHECK (status IN ('planned', 'applied', 'failed', 'rolled back')),
    finished_at timestamptz,
    error       text,
    PRIMARY KEY (run_id, position)
);
