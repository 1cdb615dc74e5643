# DreamBooth-LoRA with CAT (Park et al., arXiv:2404.07554): the adapted prediction for the trigger-free caption is
# pulled towards the base model's (the same UNet with its LoRA switched off), lambda 1.0:
#     python tools/train.py configs/dreambooth/lora_cat_sd_tiny_shapes_subject.py
_base_ = ["./lora_sd_tiny_shapes_subject.py"]
task = dict(regularizer="cat", cat_weight=1.0)
