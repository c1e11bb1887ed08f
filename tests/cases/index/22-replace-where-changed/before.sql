CREATE TABLE jobs (id bigint PRIMARY KEY, state text NOT NULL, run_at timestamptz NOT NULL);
INSERT INTO jobs VALUES (1, 'pending', now()), (2, 'done', now()), (3, 'retrying', now());
CREATE INDEX jobs_pending_idx ON jobs (run_at) WHERE state = 'pending';
