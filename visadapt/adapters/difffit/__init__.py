"""DiffFit: biases, norms and a learnable scale per residual branch; the scales fold into the weights."""
from visadapt.adapters.difffit.config import DiffFitConfig
from visadapt.adapters.difffit.layer import BranchScale

__all__ = ["BranchScale", "DiffFitConfig"]
