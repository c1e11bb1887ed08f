CREATE TABLE posts (id int PRIMARY KEY, kind text NOT NULL);
ALTER TABLE posts ENABLE ROW LEVEL SECURITY;
CREATE POLICY kinds ON posts FOR SELECT TO authenticated USING (kind = ANY (ARRAY['a'::text, 'b'::text]));
