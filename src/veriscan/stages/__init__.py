"""Case-wide stages: steps that run over the whole case after every ingest and on `refresh`.

A stage reads what the store holds (never the evidence) and rebuilds or completes one derived part
of the case: near-duplicate groups, toolchain links, list matches, the detector's batch scores.
Stages are plugins of the ``veriscan.stages`` entry-point family (the built-ins through the same
public path); each declares the stages it runs after, and the runner orders them by that.
"""
