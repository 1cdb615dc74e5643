# The offline personal subject: a pink star with concentric rings, a texture the shapes world can paint but no task
# draws and no caption names (so model_zoo/sd_tiny_shapes has never seen it); 5 instance images captioned
# "zwx, a star on a dark background". Validation / test: prompts that put the subject in new contexts, each drawn
# from fixed seeds (test seeds differ from validation seeds), scored by the model-zoo CLIP.
_trigger, _noun = "zwx", "star"
_prompts = [
    "{trigger}, a {noun} and a blue circle on a light background",
    "{trigger}, a {noun} and a green square on a dark background",
    "{trigger}, a {noun} on a noisy background",
    "{trigger}, a {noun} on a gradient background",
]
data = dict(
    train=dict(type="ShapesSubjectDataset", trigger=_trigger, shape=_noun, color="pink", texture="rings",
               num_images=5),
    val=dict(type="PromptDataset", prompts=_prompts, trigger=_trigger, noun=_noun, seeds_per_prompt=2, first_seed=0),
    test=dict(type="PromptDataset", prompts=_prompts, trigger=_trigger, noun=_noun, seeds_per_prompt=4,
              first_seed=1000),
    batch_size=4,
    eval_batch_size=8,
)
checkpoint = dict(monitor="val/identity", mode="max")
