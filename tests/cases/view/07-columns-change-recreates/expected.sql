-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- drop-view public.v: its columns change: dropped and created
DROP VIEW "public"."v";
-- create-view public.v: columns: order_id, status
CREATE VIEW "public"."v" AS SELECT id AS order_id, status FROM orders;
COMMIT;
