"""Baseline desmoking methods (classical and learned) behind the method interface."""
