"""Tests of lsvd.train."""
