"""Bridge to HF PEFT tuners (optional dependency: ``pip install "visadapt[peft]"``).

``PeftConfig`` (method ``"peft"``) injects any tuner that ``peft.inject_adapter_in_model`` supports into a
backbone; ``save_peft_pretrained`` / ``load_peft_pretrained`` speak PEFT's own on-disk format. Importing this
package registers the method; it does not import ``peft`` (that happens when a config is built).
"""
from visadapt.adapters.peft_bridge._peft import INSTALL_HINT, injectable_types
from visadapt.adapters.peft_bridge.config import PeftConfig
from visadapt.adapters.peft_bridge.io import (
    config_from_peft,
    load_peft_pretrained,
    peft_configs,
    peft_state_dict,
    save_peft_pretrained,
)

__all__ = [
    "INSTALL_HINT",
    "PeftConfig",
    "config_from_peft",
    "injectable_types",
    "load_peft_pretrained",
    "peft_configs",
    "peft_state_dict",
    "save_peft_pretrained",
]
