"""Downstream tasks: one module per task, each following :class:`bench.api.Task`.

A task module exposes ``NAME``, ``VERSION``, ``METRICS`` ({metric: higher_is_better}),
``DATASETS`` (the datasets it applies to) and ``evaluate(method, data, cfg) -> dict[str, float]``
with ``data`` a :class:`bench.taskdata.TaskData`. Optional hooks ``bench evaluate`` calls:
``FRACTIONS`` (label fractions the task sweeps; default ``cfg.eval.fractions``),
``prepare(data, cfg) -> TaskData`` (builds subsets or queries before ``evaluate``; may read files)
and ``protocol(cfg) -> str`` (the protocol name recorded in results). Tasks import ``bench`` only.
"""
