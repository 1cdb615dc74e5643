# ProLIP on OpenAI's ViT-B/16 and a CoOp-layout dataset (real use; needs the weights file and data/coop/).
# ProLIP's cached views use RandomResizedCrop(scale 0.5-1) + flip (clip.md 2.3), not CoOp's 0.08-1.
_base_ = ["../_base_/default_runtime.py", "../_base_/models/clip_vit_b16_openai.py",
          "../_base_/datasets/coop_few_shot.py", "../_base_/clip_methods/prolip.py"]
data = dict(train_transforms=[dict(type="RandomResizedCrop", size=(224, 224), scale=(0.5, 1.0), interpolation=2),
                              dict(type="HorizontalFlip", p=0.5)])
trainer = dict(max_epochs=1, precision="16-mixed")  # one epoch = one step per cached view
seed = 1
