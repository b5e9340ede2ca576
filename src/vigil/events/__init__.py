"""Events: the track lifecycle and the only bridge from the engine to outputs."""
