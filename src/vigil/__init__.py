"""Vigil: open live face recognition."""

__version__ = "0.1.0"
