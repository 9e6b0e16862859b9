"""Helpers shared by the task modules: image loading, feature extraction, probes, metrics."""
