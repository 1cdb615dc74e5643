# Few-shot classification on the offline shapes world: K training images per class drawn from the train split
# (seeded by the run's seed; the draw is saved in the run directory as few_shot_split.json), evaluated once on the
# full test split (2,000 images); no validation set, last iterate (CLIP-LoRA's protocol). The default task, size
# (small / medium / large), is one the model-zoo CLIP was never taught to name (its captions never mention it):
# zero-shot it is at chance. Choose another task with
#     --cfg-options data.train.dataset.task=texture data.test.task=texture
# and K with data.train.shots=16; seeds 1, 2, 3 as in CoOp and CLIP-LoRA (--seed). Augmentation is photometric
# only: crops and flips would change the labels of size, position and orientation.
_task = "size"
data = dict(
    train=dict(type="FewShotDataset", dataset=dict(type="ShapesDataset", task=_task, split="train"), shots=4),
    test=dict(type="ShapesDataset", task=_task, split="test"),
    train_transforms=[dict(type="ColorJitter", brightness=0.3, contrast=0.3, saturation=0.3, hue=0.05, p=0.8)],
    batch_size=32,
    eval_batch_size=500,
)

