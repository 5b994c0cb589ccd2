"""Archive formats as a registered family: the contract, one module per format, the walk."""
