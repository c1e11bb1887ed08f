CREATE TABLE items (id integer PRIMARY KEY, quantity integer NOT NULL, name text NOT NULL);
INSERT INTO items VALUES (1, 5, 'bolt'), (2, 7, 'nut');
CREATE INDEX items_quantity_idx ON items (quantity);
CREATE INDEX items_name_idx ON items (name);
