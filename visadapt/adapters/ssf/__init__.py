"""SSF: learnable per-channel scale and shift of intermediate features, folded into the weights after training."""
from visadapt.adapters.ssf.config import SSFConfig
from visadapt.adapters.ssf.layer import ScaleShift

__all__ = ["SSFConfig", "ScaleShift"]
