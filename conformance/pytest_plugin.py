"""The pytest plugin: collects YAML cases as pytest items (filled in by the engine issue)."""
