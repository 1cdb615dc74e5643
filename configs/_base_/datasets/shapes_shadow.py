# Shadow detection in the offline shapes world: the same scenes lit by one light, every object casting a shadow;
# the target is the visible shadow (binary), which a SAM trained to segment objects has never been asked for (the
# shifted task of the SAM-adapter configs; BER and MAE are reported as in the shadow literature).
# train800 / val200 / test (2,000 images), 64x64.
_split = dict(type="ShapesSegmentationDataset", target="shadows", shadows=True)
data = dict(
    train=dict(_split, split="train800"),
    val=dict(_split, split="val200"),
    test=dict(_split, split="test"),
    batch_size=32,
    eval_batch_size=100,
)
checkpoint = dict(monitor="val/dice", mode="max")
