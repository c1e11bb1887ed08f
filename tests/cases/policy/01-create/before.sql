CREATE TABLE posts (id int PRIMARY KEY, author uuid NOT NULL, published boolean NOT NULL DEFAULT false);
ALTER TABLE posts ENABLE ROW LEVEL SECURITY;
