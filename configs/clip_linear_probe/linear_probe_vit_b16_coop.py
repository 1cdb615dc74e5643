# Linear probe on OpenAI's ViT-B/16 frozen image embeddings, CoOp-layout dataset (real use).
_base_ = ["../_base_/default_runtime.py", "../_base_/models/clip_vit_b16_openai.py",
          "../_base_/datasets/coop_few_shot.py", "../_base_/clip_methods/linear_probe.py"]
data = dict(train_transforms=None)
trainer = dict(max_epochs=300, log_every_n_steps=50)
seed = 1
