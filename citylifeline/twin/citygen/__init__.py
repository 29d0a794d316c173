"""Generators of the demo city's files (run once; their output is committed in data/demo_city)."""
