"""Side-by-side benchmarks: `python -m benchmarks.NAME`; each prints one JSON line at the end."""
