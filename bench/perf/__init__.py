"""Speed measurement helpers: shapes of the published text towers without their weights, the
one-command throughput measurement (``bench.perf.throughput``), and PRIOR's training step against
the official code's, side by side (``bench.perf.side_by_side``)."""
