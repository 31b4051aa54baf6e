"""Presentation: results sheets, figures, console text, provenance and the atomic publisher."""
