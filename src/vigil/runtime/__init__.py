"""Where stages run: the per-source pipeline (and, later, worker processes and Ray)."""
