"""Speed measurement helpers: shapes of the published text towers without their weights, and the
one-command throughput measurement (``bench.perf.throughput``)."""
