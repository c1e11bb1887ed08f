CREATE FUNCTION evens(n integer) RETURNS SETOF integer LANGUAGE sql AS 'SELECT g FROM generate_series(0, n, 2) g';
