"""Executors: in-process threads or a Dask cluster, the thread budget, and the workers' model store."""
