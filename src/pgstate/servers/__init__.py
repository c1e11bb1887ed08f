"""Real PostgreSQL servers pgstate starts itself: the embedded default, and the test suite's."""
