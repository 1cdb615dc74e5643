# DreamBooth-LoRA with prior preservation: 50 class images of "a star" generated once by the base model (cached in
# the run directory), an instance half and a class half in every batch, prior loss weight 1.0:
#     python tools/train.py configs/dreambooth/lora_prior_sd_tiny_shapes_subject.py
# An epoch here runs over the 50 class images (13 batches, the instance images cycling, as diffusers' DreamBooth
# dataset), so the base schedule's 150 epochs would be 1,950 steps: the length is set in steps, 300 as the others,
# with the one validation at the end.
_base_ = ["./lora_sd_tiny_shapes_subject.py"]
task = dict(regularizer="prior", class_prompt="a star", num_class_images=50, prior_loss_weight=1.0)
trainer = dict(max_steps=300, max_epochs=-1, check_val_every_n_epoch=None, val_check_interval=300)
