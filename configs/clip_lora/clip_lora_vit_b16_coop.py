# CLIP-LoRA on OpenAI's ViT-B/16 and a CoOp-layout dataset (real use; needs the weights file and data/coop/):
#     python tools/train.py configs/clip_lora/clip_lora_vit_b16_coop.py --seed 1 --cfg-options data.train.shots=16 \
#         data.train.dataset.name=DescribableTextures data.test.name=DescribableTextures
# fp16 autocast as the reference (on a GPU).
_base_ = ["../_base_/default_runtime.py", "../_base_/models/clip_vit_b16_openai.py",
          "../_base_/datasets/coop_few_shot.py", "../_base_/clip_methods/clip_lora.py"]
backbone = dict(split_attention=True)
trainer = dict(precision="16-mixed", log_every_n_steps=50)
seed = 1
