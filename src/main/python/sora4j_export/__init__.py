"""sora4j_export: turns Open-Sora v1.2 checkpoints (T5, STDiT3, VAE) into sora4j model packs.

Depends only on torch and numpy. See docs/model-pack.md for the pack format and block contracts.
"""

__version__ = "0.1.0"
