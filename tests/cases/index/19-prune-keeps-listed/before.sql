CREATE TABLE tickets (id integer PRIMARY KEY, status text NOT NULL, opened_at timestamptz NOT NULL, assignee_id integer);
INSERT INTO tickets VALUES (1, 'open', now(), 7), (2, 'closed', now(), NULL);
CREATE INDEX tickets_status_idx ON tickets (status) WHERE status <> 'closed';
CREATE INDEX tickets_opened_at_idx ON tickets (opened_at DESC);
CREATE INDEX tickets_assignee_id_idx ON tickets (assignee_id);
