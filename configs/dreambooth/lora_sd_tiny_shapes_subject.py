# Plain DreamBooth-LoRA on the offline subject (no regulariser):
#     python tools/train.py configs/dreambooth/lora_sd_tiny_shapes_subject.py
_base_ = ["../_base_/models/sd_tiny_shapes.py", "../_base_/models/sd_lora_unet_attn.py",
          "../_base_/datasets/shapes_subject.py", "../_base_/schedules/dreambooth_lora_300steps.py"]
task = dict(type="TextToImageTask", regularizer="none", trigger="zwx")
