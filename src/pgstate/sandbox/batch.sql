-- The sandbox's batch: the work of many tables in one call, created in pg_temp inside the sandbox's rolled-back
-- transaction (so it never outlives it). One round trip instead of a dozen statements per table.
--
-- chunks: an array of chunks; a chunk is an array of tables; a table is {"copy": name in pg_temp, "steps": [...]}
-- and a step is {"check": sql} (a SELECT of one fragment, which must have exactly one column), {"run": sql}, or
-- {"try": sql} (its failure is no failure of the table), or {"note": sql} (a query whose rows are returned with the
-- table: what the catalog says between two steps, such as a relfilenode before and after a type change). The
-- first step creates the copy.
-- readbacks: catalog queries over the chunk's copies, their oids as $1.
-- Returned, one per chunk: {"chunk": n, "tables": the positions of the tables that went through, "oids": their
-- copies, "notes": per such table its notes (each a JSON array of rows), "readbacks": each readback's rows, as
-- JSON objects}.
--
-- Each table runs in a block of its own: a refusal undoes that table's work, and the caller gives that table to
-- the statement-by-statement path, which locates the refusal in its file. Each chunk ends by raising a private
-- error that rolls it back, with the locks it took: a chunk holds at most what the server sets aside for one
-- transaction (max_locks_per_transaction), whatever the number of tables. A lock wait that outlasts
-- lock_timeout is no refusal: it ends the call.
CREATE FUNCTION pg_temp.pgstate_batch(chunks jsonb, readbacks text[]) RETURNS SETOF json
LANGUAGE plpgsql AS $batch$
DECLARE
    chunk_number int;
    table_number int;
    item jsonb;
    step jsonb;
    copy_oid oid;
    copy_oids oid[];
    copy_tables int[];
    readback int;
    part json;
    results json[];
    fragment refcursor;
    probe record;
    width int;
    noted jsonb;
    table_notes jsonb;
    chunk_notes jsonb;
BEGIN
    FOR chunk_number IN 0 .. jsonb_array_length(chunks) - 1 LOOP
        BEGIN
            copy_oids := '{}';
            copy_tables := '{}';
            chunk_notes := '[]';
            FOR table_number IN 0 .. jsonb_array_length(chunks -> chunk_number) - 1 LOOP
                item := chunks -> chunk_number -> table_number;
                table_notes := '[]';
                BEGIN
                    FOR step IN SELECT value FROM jsonb_array_elements(item -> 'steps') LOOP
                        IF step ? 'check' THEN
                            -- A cursor accepts exactly one SELECT; its first (absent) row shows the width.
                            OPEN fragment FOR EXECUTE step ->> 'check';
                            FETCH fragment INTO probe;
                            CLOSE fragment;
                            SELECT count(*) INTO width FROM json_each(to_json(probe));
                            IF width <> 1 THEN
                                RAISE EXCEPTION 'not a single expression' USING ERRCODE = 'PGS02';
                            END IF;
                        ELSIF step ? 'note' THEN
                            EXECUTE format('SELECT coalesce(jsonb_agg(q), ''[]'') FROM (%s) q', step ->> 'note')
                                INTO noted;
                            table_notes := table_notes || jsonb_build_array(noted);
                        ELSIF step ? 'try' THEN
                            BEGIN
                                EXECUTE step ->> 'try';
                            EXCEPTION
                                WHEN lock_not_available THEN RAISE;
                                WHEN OTHERS THEN NULL;
                            END;
                        ELSE
                            EXECUTE step ->> 'run';
                        END IF;
                    END LOOP;
                    SELECT c.oid INTO STRICT copy_oid FROM pg_class c
                    WHERE c.relnamespace = pg_my_temp_schema() AND c.relname = item ->> 'copy';
                    copy_oids := copy_oids || copy_oid;
                    copy_tables := copy_tables || table_number;
                    chunk_notes := chunk_notes || jsonb_build_array(table_notes);
                EXCEPTION
                    WHEN lock_not_available THEN RAISE;
                    WHEN OTHERS THEN NULL;  -- not among the copies: the caller takes this table the long way
                END;
            END LOOP;
            results := '{}';
            FOR readback IN 1 .. coalesce(array_length(readbacks, 1), 0) LOOP
                EXECUTE format('SELECT coalesce(json_agg(q), ''[]'') FROM (%s) q', readbacks[readback])
                    INTO part USING copy_oids;
                results := results || part;
            END LOOP;
            -- Returned now: what RETURN NEXT stores outlives the chunk's rollback (PL/pgSQL keeps it in the
            -- function's own memory), and an array grown chunk by chunk would be copied at every append.
            RETURN NEXT json_build_object(
                'chunk', chunk_number, 'tables', copy_tables, 'oids', copy_oids, 'notes', chunk_notes, 'readbacks', results);
            RAISE EXCEPTION 'roll back the chunk' USING ERRCODE = 'PGS01';
        EXCEPTION
            WHEN SQLSTATE 'PGS01' THEN NULL;
        END;
    END LOOP;
END
$batch$
