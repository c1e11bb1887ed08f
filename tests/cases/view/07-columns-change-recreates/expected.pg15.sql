-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '2s';
-- drop-view public.v: its columns change: dropped and created
DROP VIEW "public"."v";
-- create-view public.v: columns: order_id, status
CREATE VIEW "public"."v" AS SELECT orders.id AS order_id,
    orders.status
   FROM orders;
COMMIT;
