"""fmreview.zoo: the reference model zoo. Registry of catalog checkpoints, verified download, safe loading,
datasets in their real formats, evaluation recipes, and verification records.

torch, transformers and huggingface_hub are imported inside functions, so ``import fmreview.zoo`` is cheap.
"""
