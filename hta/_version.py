"""The package version (one place; imported by ``hta`` and by provenance records)."""

__version__ = "0.1.0"
