"""Performance scripts: each compares against a reference in the same run and records figures."""
