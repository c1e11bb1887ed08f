CREATE FUNCTION area(r float8) RETURNS float8 LANGUAGE sql AS 'SELECT pi() * r * r';
CREATE FUNCTION area(w int, h int) RETURNS int LANGUAGE sql AS 'SELECT w * h';
REVOKE EXECUTE ON FUNCTION area(int, int) FROM PUBLIC;  -- a rollback gives the privileges back
GRANT EXECUTE ON FUNCTION area(int, int) TO service_role;
