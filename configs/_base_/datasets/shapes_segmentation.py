# Object segmentation in the offline shapes world (1-4 objects per 64x64 image, binary masks of every object):
# the source task of the model-zoo SAM. VTAB-style splits: train800 / val200 / test (2,000 images).
_split = dict(type="ShapesSegmentationDataset", target="objects", shadows=False)
data = dict(
    train=dict(_split, split="train800"),
    val=dict(_split, split="val200"),
    test=dict(_split, split="test"),
    batch_size=32,
    eval_batch_size=100,
)
checkpoint = dict(monitor="val/dice", mode="max")  # best.ckpt by validation Dice
