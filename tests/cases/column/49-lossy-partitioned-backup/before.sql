CREATE TABLE events (id bigint NOT NULL, at date NOT NULL, payload json, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO events VALUES (1, '2025-05-01', '{"a": 1,  "a": 3}'), (2, '2026-05-01', '{"b": 2, "a" : 1}');
