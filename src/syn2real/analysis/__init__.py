"""Analyses of the paper's Sections 4.3 and 4.5: data complexity and model size."""

from .entropy import Entropy, gaussian_negative_entropy, negative_entropy
from .modelsize import fit_gap_vs_size, model_size_study

__all__ = ["Entropy", "fit_gap_vs_size", "gaussian_negative_entropy", "model_size_study",
           "negative_entropy"]
