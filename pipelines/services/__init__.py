"""Writes of the pipelines app."""
