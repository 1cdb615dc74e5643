# Shapes-world scenes with their captions (the tasks the model-zoo CLIP was trained on: shape, shape_multi, color,
# texture, background, count; 4,000 scenes each from the train streams), for the text-to-image pretraining stages.
data = dict(
    train=dict(type="ShapesCaptionDataset", split="train", num_samples=24000),
    val=dict(type="ShapesCaptionDataset", split="val200", num_samples=600),
    test=dict(type="ShapesCaptionDataset", split="test", num_samples=1200),
    batch_size=32,
    eval_batch_size=200,
)
