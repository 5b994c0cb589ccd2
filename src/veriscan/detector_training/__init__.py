"""Training and evaluation of the pixel-level detector; the only part of veriscan that needs torch.

Modules that train (``nets``, ``train``, ``export``, ``lofo``) import torch at the top; the rest
(``data``, ``augment``, ``metrics``, ``evaluate``, ``plots``) do not, so a bundle can be evaluated
with onnxruntime alone. Nothing is imported here, so importing this package costs nothing.
"""
