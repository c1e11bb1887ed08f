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
-- Set by the run's own transaction, in it: not null exactly when that transaction committed.
ALTER TABLE pgstate.runs ADD COLUMN IF NOT EXISTS committed_at timestamptz;
-- What a lossy type change left in each converted table, read in the run's transaction right after the change:
-- rollback gives the original values back only to a table that still holds exactly this.
ALTER TABLE pgstate.runs ADD COLUMN IF NOT EXISTS converted jsonb NOT NULL DEFAULT '{}';
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
-- The statuses of pgstate 0.3 (history.status): older versions knew fewer. Replaced once, not on every run.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_constraint WHERE conname = 'runs_status_known'
                   AND conrelid = 'pgstate.runs'::regclass) THEN
        ALTER TABLE pgstate.runs DROP CONSTRAINT IF EXISTS runs_status_check;
        ALTER TABLE pgstate.runs ADD CONSTRAINT runs_status_known CHECK (status IN ('running', 'applied',
            'rolled back', 'failed', 'incomplete', 'interrupted'));
    END IF;
    IF NOT EXISTS (SELECT FROM pg_constraint WHERE conname = 'run_steps_status_known'
                   AND conrelid = 'pgstate.run_steps'::regclass) THEN
        ALTER TABLE pgstate.run_steps DROP CONSTRAINT IF EXISTS run_steps_status_check;
        ALTER TABLE pgstate.run_steps ADD CONSTRAINT run_steps_status_known CHECK (status IN ('planned',
            'committed', 'failed', 'rolled back', 'skipped', 'applied'));
    END IF;
END
$$;
-- Fragments the server has already canonicalised (sandbox/cache.py): the key digests the fragment, what it was
-- compared with and everything its parsing depends on; rows of another catalog generation are dead weight,
-- deleted when new ones are written.
CREATE TABLE IF NOT EXISTS pgstate.canonical_forms (
    key        text PRIMARY KEY,
    generation text NOT NULL,
    written_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
