"""Measuring Vigil: accuracy protocols (LFW) and benchmarks."""
