"""Benchmarks (not tests): each `bench/<name>.py` has a `main()` that prints its figures.
Run them all with `python -m bench`, or one with `python -m bench.<name>`."""
