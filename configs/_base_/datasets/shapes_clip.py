# The offline clip for one-shot video tuning: a red circle moving left to right on a dark background, 8 frames at
# 32x32 (the model-zoo text-to-image model's size), captioned as the shapes world's pretraining captions are.
# The one clip is repeated 100 times an epoch (one clip a step). Test: edit prompts (colour, background, shape);
# an edit is deterministic (DDIM inversion, then DDIM sampling), so one seed per prompt.
_edits = [
    "a blue circle moving left to right on a dark background",
    "a red circle moving left to right on a light background",
    "a yellow square moving left to right on a dark background",
]
data = dict(
    train=dict(type="ShapesClipDataset", shape="circle", color="red", background="dark", motion="move",
               num_frames=8, image_size=32, repeats=100),
    test=dict(type="PromptDataset", prompts=_edits),
    batch_size=1,
    eval_batch_size=4,
)
