"""The data model: manifests, source indexers, synthetic data, smoke scoring, datasets."""
