"""The pixel-level AI-image detector: ONNX inference only. Training (PyTorch, offline, the
``[train]`` extra) lives in :mod:`veriscan.detector_training`, outside the runtime analyzers."""
