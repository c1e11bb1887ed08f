CREATE TABLE notes (id int PRIMARY KEY, owner uuid NOT NULL);
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON notes TO authenticated USING (owner = (select auth.uid()));
