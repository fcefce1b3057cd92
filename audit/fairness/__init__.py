"""Group metrics on arrays: the metric registry, group tables, comparisons with intervals and tests, and the
per-partition tasks of the out-of-core engine. No I/O and no configuration: the bottom of audit."""
