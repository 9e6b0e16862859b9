"""The regression gate behind ``bench check``.

- :mod:`bench.gate.compare`: cells, verdicts and the comparison with published numbers;
- :mod:`bench.gate.baselines`: the pinned baselines (file format, tolerance rule, update, diff);
- :mod:`bench.gate.report`: the markdown (pandas + tabulate) and JSON output.
"""
