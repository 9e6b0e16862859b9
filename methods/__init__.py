"""Pretraining methods (one package each) and the encoders they share (:mod:`methods.encoders`).

The harness finds the methods through :data:`bench.registry.METHODS`; methods import ``bench``
and never each other.
"""
