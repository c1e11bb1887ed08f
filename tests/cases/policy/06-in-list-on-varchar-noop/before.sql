CREATE TABLE posts (id int PRIMARY KEY, kind varchar(10) NOT NULL);
ALTER TABLE posts ENABLE ROW LEVEL SECURITY;
CREATE POLICY kinds ON posts FOR SELECT TO authenticated USING (kind IN ('a', 'b'));
