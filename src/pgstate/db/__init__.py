"""Talking to the server: where the URL comes from, connecting, and running one statement at a time."""
