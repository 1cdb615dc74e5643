"""Reusable building blocks shared by adaptation methods."""
from visadapt.layers.bottleneck import Bottleneck

__all__ = ["Bottleneck"]
