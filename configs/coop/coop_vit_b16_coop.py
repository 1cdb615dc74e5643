# CoOp (16 context tokens, class token at the end) on OpenAI's ViT-B/16 and a CoOp-layout dataset (real use).
_base_ = ["../_base_/default_runtime.py", "../_base_/models/clip_vit_b16_openai.py",
          "../_base_/datasets/coop_few_shot.py", "../_base_/clip_methods/coop.py"]
trainer = dict(precision="16-mixed")
seed = 1
