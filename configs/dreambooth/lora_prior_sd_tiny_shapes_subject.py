# DreamBooth-LoRA with prior preservation: 50 class images of "a star" generated once by the base model (cached in
# the run directory), an instance half and a class half in every batch, prior loss weight 1.0:
#     python tools/train.py configs/dreambooth/lora_prior_sd_tiny_shapes_subject.py
_base_ = ["./lora_sd_tiny_shapes_subject.py"]
task = dict(regularizer="prior", class_prompt="a star", num_class_images=50, prior_loss_weight=1.0)
