CREATE TABLE profiles (
    id integer PRIMARY KEY,
    user_id integer NOT NULL,
    bio varchar(500),
    settings jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    visible boolean NOT NULL DEFAULT true
);
INSERT INTO profiles (id, user_id, bio) VALUES (1, 1, 'hi'), (2, 2, NULL);
CREATE UNIQUE INDEX profiles_user_id_idx ON profiles (user_id);
CREATE INDEX profiles_settings_idx ON profiles USING gin (settings);
CREATE INDEX profiles_created_at_idx ON profiles USING brin (created_at);
CREATE INDEX profiles_visible_idx ON profiles (created_at DESC) WHERE visible;
