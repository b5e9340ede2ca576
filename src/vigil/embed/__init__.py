"""Stage 5: aligned chips → L2-normalised vectors stamped with the model id."""
