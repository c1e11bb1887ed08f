"""The record of runs in the database, the pre-run state, and rollback."""
