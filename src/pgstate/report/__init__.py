"""Plans, drift and history written for people and machines."""
