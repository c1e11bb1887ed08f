"""Carrying out a plan: the advisory lock, the phases, retries with backoff, undo, verification."""
