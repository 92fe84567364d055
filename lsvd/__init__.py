"""LSVD toolkit: surgical video desmoking research around the LSVD dataset and SelfSVD."""

__version__ = "0.1.0"
