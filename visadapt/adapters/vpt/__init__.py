"""VPT: learnable prompt tokens fed to a frozen ViT, at its input (shallow) or at every block (deep)."""
from visadapt.adapters.vpt.config import VPTConfig
from visadapt.adapters.vpt.layer import PromptedBlock

__all__ = ["PromptedBlock", "VPTConfig"]
