# Zero-shot CLIP ViT-B/16 on a CoOp-layout dataset (real use) with the dataset's CoOp template ("a photo of a {},
# a type of pet." for OxfordPets, ...): the task sets no templates, so CoOpDataset's own are used.
_base_ = ["../_base_/default_runtime.py", "../_base_/models/clip_vit_b16_openai.py",
          "../_base_/datasets/coop_few_shot.py"]
task = dict(type="CLIPClassificationTask")
adapter = dict(type="parameters")  # nothing trains
trainer = dict(max_steps=0, precision="16-mixed")
seed = 1
