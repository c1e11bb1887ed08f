CREATE TABLE teams (id int PRIMARY KEY, slug varchar(40) NOT NULL);
CREATE TABLE legacy_members (id int PRIMARY KEY, team_id int NOT NULL);
ALTER TABLE legacy_members ENABLE ROW LEVEL SECURITY;
CREATE POLICY by_team ON legacy_members TO authenticated
    USING (EXISTS (SELECT 1 FROM teams t WHERE t.id = legacy_members.team_id AND t.slug = 'core'));
