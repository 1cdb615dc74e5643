# One of the 11 few-shot datasets in CoOp's layout under data/coop/ (oxford_pets/, dtd/, eurosat/, ... with their
# split_zhou_*.json), K shots per class drawn per seed (saved in the run directory as few_shot_split.json; read a
# fixed draw with data.train.split_file=...), tested once on the full test split. Choose the dataset with
# --cfg-options data.train.dataset.name=EuroSAT data.test.name=EuroSAT. Transforms as CoOp / CLIP-LoRA: random
# resized crop (scale 0.08-1, bicubic) + flip for training; shorter side to 224 (bicubic) + centre crop for testing.
_root = "data/coop"
_name = "OxfordPets"
data = dict(
    train=dict(type="FewShotDataset", dataset=dict(type="CoOpDataset", root=_root, name=_name, split="train"),
               shots=16),
    test=dict(type="CoOpDataset", root=_root, name=_name, split="test"),
    train_transforms=[dict(type="RandomResizedCrop", size=(224, 224), scale=(0.08, 1.0), interpolation=2),
                      dict(type="HorizontalFlip", p=0.5)],
    test_transforms=[dict(type="SmallestMaxSize", max_size=224, interpolation=2),
                     dict(type="CenterCrop", height=224, width=224)],
    batch_size=32,
    eval_batch_size=256,
    num_workers=8,
)
