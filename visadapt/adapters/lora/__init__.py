"""LoRA: low-rank updates of Linear layers, on whole projections or q/k/v slices of fused ones."""
from visadapt.adapters.lora.config import LoRAConfig
from visadapt.adapters.lora.layer import LoRALinear

__all__ = ["LoRAConfig", "LoRALinear"]
