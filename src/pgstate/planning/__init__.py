"""From two states to a plan: the keyed diff, the dependents in the way, steps ordered by one graph, drift."""
