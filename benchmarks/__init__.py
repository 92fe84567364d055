"""Metrics, the method runner, leaderboards and performance scripts."""
