"""Analyses over a model's outcomes (cost-effectiveness, sensitivity, value of information, structural uncertainty)."""
