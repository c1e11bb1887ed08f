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
-- What pgstate set (settings, storage parameters, role settings): when the desired files stop listing one, only
-- these are reset. The scope is the kind that set it; the object, what it belongs to (a database, a table, a role).
CREATE TABLE IF NOT EXISTS pgstate.managed_settings (
    scope   text NOT NULL,
    object  text NOT NULL,
    name    text NOT NULL,
    value   text NOT NULL,
    run_id  bigint REFERENCES pgstate.runs (id),
    PRIMARY KEY (scope, object, name)
);
-- pgstate 0.1 allowed two scopes only, named otherwise.
ALTER TABLE pgstate.managed_settings DROP CONSTRAINT IF EXISTS managed_settings_scope_check;
UPDATE pgstate.managed_settings SET scope = 'setting' WHERE scope = 'database';
UPDATE pgstate.managed_settings SET scope = 'storage' WHERE scope = 'table';
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
