CREATE TABLE teams (id int PRIMARY KEY, slug varchar(40) NOT NULL);
CREATE TABLE members (id int PRIMARY KEY, team_id int NOT NULL, team_slug text);
ALTER TABLE members ENABLE ROW LEVEL SECURITY;
CREATE POLICY by_team ON members TO authenticated
    USING (EXISTS (SELECT 1 FROM teams t WHERE t.id = members.team_id AND t.slug = 'core'));
INSERT INTO teams VALUES (1, 'core');
