"""Applying networks: the fast runner, ``stylize``, tiling of large images, strength and colour
controls, ONNX export, and any painting as the style (AdaIN)."""
