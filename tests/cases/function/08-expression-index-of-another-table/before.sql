-- An unmanaged table whose expression index calls a helper function; the desired signature adds an argument.
CREATE FUNCTION public.norm(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower(t) $$;
CREATE TABLE public.other (id int, name text);
CREATE INDEX other_norm_idx ON public.other (public.norm(name));
INSERT INTO public.other VALUES (1, 'A');
