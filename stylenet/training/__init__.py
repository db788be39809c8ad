"""Training: everything that needs Lightning, Hydra and TensorBoard (``pip install "stylenet[train]"``).

Nothing on the inference or quality-tool path imports this package. The data flow:
``data`` (photo crops) -> ``module`` (network + perceptual loss, one training step)
-> ``callbacks`` (previews, checkpoints) -> ``train.train(cfg)`` -> an exported
weights file; ``config`` holds the Hydra schema and ``app`` the entry point that
``scripts/train.py`` and ``stylenet train`` share.
"""
