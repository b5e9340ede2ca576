"""Use cases over the store and the engine: what the CLI and the API call. Every change is audited."""
