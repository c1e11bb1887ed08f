"""Fleets: many targets of one desired state, run one per process by the CI's own engine, and their joined report."""
