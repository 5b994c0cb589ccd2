"""The pixel-level AI-image detector: ONNX inference here, training in ``training/``."""
