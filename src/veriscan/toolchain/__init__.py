"""Ties the models named in generation metadata to the model files found on the same media."""
