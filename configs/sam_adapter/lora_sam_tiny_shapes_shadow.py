# SAMed-style LoRA (q, v of every encoder block, r 4) + trained mask decoder, adapting the model-zoo SAM to shadow
# detection, prompt-free:  python tools/train.py configs/sam_adapter/lora_sam_tiny_shapes_shadow.py
_base_ = ["../_base_/schedules/sam_adamw_20e.py", "../_base_/models/sam_tiny_shapes.py",
          "../_base_/datasets/shapes_shadow.py", "../_base_/sam_methods/samed_lora.py"]
