"""The desired files: YAML with positions, the JSON Schema, the specs every kind reads, and YAML written back."""
