# The standard few-shot CLIP table (real use, GPU): OpenAI's ViT-B/16 on the 11 CoOp datasets under data/coop/,
# K = 1..16, seeds 1-3, each run tested once on the dataset's full test split.
#     python tools/few_shot_sweep.py configs/benchmark/few_shot_coop11_vit_b16.py --jobs 1
# For comparison, averages over the 11 datasets read off CLIP-LoRA's figure (clip.md 1.6, +-0.3): CLIP-LoRA
# 72.6 / 75.4 / 77.5 / 80.2 / 83.0 and CoOp 67.7 / 70.8 / 74.0 / 76.9 / ~80.0 for K = 1 / 2 / 4 / 8 / 16.
_names = ["ImageNet", "Caltech101", "OxfordPets", "StanfordCars", "OxfordFlowers", "Food101", "FGVCAircraft",
          "SUN397", "DescribableTextures", "EuroSAT", "UCF101"]
sweep = dict(
    methods=dict(
        zero_shot=dict(config="configs/clip_zero_shot/zero_shot_vit_b16_coop.py", uses_shots=False),
        linear_probe=dict(config="configs/clip_linear_probe/linear_probe_vit_b16_coop.py"),
        coop=dict(config="configs/coop/coop_vit_b16_coop.py"),
        prolip=dict(config="configs/prolip/prolip_vit_b16_coop.py"),
        prolip_fewval=dict(config="configs/prolip/prolip_vit_b16_coop_fewval.py"),  # lr, lambda chosen on K val shots
        clip_lora=dict(config="configs/clip_lora/clip_lora_vit_b16_coop.py"),
    ),
    datasets={name: dict(data=dict(train=dict(dataset=dict(name=name)), test=dict(name=name))) for name in _names},
    shots=[1, 2, 4, 8, 16],
    seeds=[1, 2, 3],
)
