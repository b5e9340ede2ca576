"""Stage 6: vector index backends, watchlists, open-set per-track decisions."""
