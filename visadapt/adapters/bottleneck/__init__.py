"""Bottleneck adapters: Houlsby, Pfeiffer and AdaptFormer placements of one layer."""
from visadapt.adapters.bottleneck.config import AdaptFormerConfig, BottleneckConfig, HoulsbyConfig, PfeifferConfig
from visadapt.adapters.bottleneck.layer import BottleneckAdapterLayer

__all__ = ["AdaptFormerConfig", "BottleneckAdapterLayer", "BottleneckConfig", "HoulsbyConfig", "PfeifferConfig"]
