-- What pgstate set, and so may reset when the desired files stop declaring it (empty before the first apply).
SELECT scope, object, name, value FROM pgstate.managed_settings
