CREATE TABLE orders (id int PRIMARY KEY);
CREATE VIEW old_report AS SELECT count(*) AS n FROM orders;
GRANT SELECT ON old_report TO authenticated;  -- a rollback gives the privileges back
