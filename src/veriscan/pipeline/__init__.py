"""The pipeline: plan work units, process them in workers, commit results."""
