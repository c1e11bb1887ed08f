CREATE TABLE posts (id int PRIMARY KEY, author uuid NOT NULL);
ALTER TABLE posts ENABLE ROW LEVEL SECURITY;
CREATE POLICY mine ON posts TO authenticated USING (author = (select auth.uid()));
CREATE POLICY legacy ON posts USING (true);
