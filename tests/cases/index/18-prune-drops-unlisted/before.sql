CREATE TABLE logs (id bigint PRIMARY KEY, level text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), message text);
INSERT INTO logs (id, level, message) VALUES (1, 'info', 'started'), (2, 'error', 'failed');
CREATE INDEX logs_level_idx ON logs (level);
CREATE INDEX logs_created_at_idx ON logs (created_at);
CREATE INDEX logs_message_idx ON logs (message);
