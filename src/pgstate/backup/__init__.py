"""Dumps taken before destructive steps, verified, and restored by rollback."""
