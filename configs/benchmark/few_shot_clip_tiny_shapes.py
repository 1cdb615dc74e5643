# The offline few-shot CLIP sweep: the model-zoo CLIP (pretrained on captions that never name sizes, and that it
# learnt to ground poorly for textures and counts: zero-shot near chance on all three) adapted with K = 1..16
# images per class, seeds 1-3, tested once on each task's full test split (2,000 images).
#     python tools/few_shot_sweep.py configs/benchmark/few_shot_clip_tiny_shapes.py --jobs 2
_methods = "configs/{}_clip_tiny_shapes.py"
sweep = dict(
    methods=dict(
        zero_shot=dict(config=_methods.format("clip_zero_shot/zero_shot"), uses_shots=False),
        linear_probe=dict(config=_methods.format("clip_linear_probe/linear_probe")),
        coop=dict(config=_methods.format("coop/coop")),
        prolip=dict(config=_methods.format("prolip/prolip")),
        # ProLIP's other protocol: lr and lambda chosen on K val200 images per class (configs/prolip/*_fewval.py).
        prolip_fewval=dict(config="configs/prolip/prolip_clip_tiny_shapes_fewval.py"),
        clip_lora=dict(config=_methods.format("clip_lora/clip_lora")),
    ),
    datasets={
        task: dict(data=dict(train=dict(dataset=dict(task=task)), test=dict(task=task)))
        for task in ("size", "texture", "count")
    },
    shots=[1, 2, 4, 8, 16],
    seeds=[1, 2, 3],
)
