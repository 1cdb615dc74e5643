# MSA / AdapterShadow-style bottleneck adapters in every encoder block + trained mask decoder, adapting the
# model-zoo SAM to shadow detection, prompt-free:  python tools/train.py configs/sam_adapter/adapter_sam_tiny_shapes_shadow.py
# AdapterShadow prompts with a grid of points instead: --cfg-options task.prompt.mode=grid task.prompt.grid_size=4
_base_ = ["../_base_/schedules/sam_adamw_20e.py", "../_base_/models/sam_tiny_shapes.py",
          "../_base_/datasets/shapes_shadow.py", "../_base_/sam_methods/msa_adapter.py"]
