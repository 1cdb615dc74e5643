# The ViT protocol of the offline X-C benchmark (CTTA protocol, tta.md 2.1): the model-zoo source ViT
# (vit_tiny_r_shapes, a hybrid ViT with a convolutional stem; 8-class `shape` head, kept
# because the stream's base dataset has 8 classes) on the ShapesDataset `shape` test split, corrupted by the 15
# corruptions in the standard order at severity 5, one continual pass, never reset, batch 64. Error is top-1 (%)
# per domain, online (each batch scored once, by the method's prediction for it), and the unweighted mean.
_base_ = ["../models/vit_tiny_r_shapes.py"]
stream = dict(
    base=dict(type="ShapesDataset", task="shape", split="test"),
    severities=[5],
    samples_per_domain=1000,  # the first 1,000 of the 2,000 test images (balanced); 15,000 images per run
    batch_size=64,
    shuffle_seed=0,
    order="sequential",
    reset="never",
)
seed = 0
device = "auto"
