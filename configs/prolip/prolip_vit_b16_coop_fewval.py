# ProLIP with its few-shot validation protocol (clip.md 2.2, the LP++ setting) on OpenAI's ViT-B/16 and a
# CoOp-layout dataset (real use): K images per class drawn from the dataset's val split with the run's seed, the
# reference's 7 x 7 grid of lr x lambda trained from W0 and scored on them, the final run trained with the best pair
# (prolip_search.json in the run directory). The search trains in fp32, the final run under fp16 autocast.
_base_ = ["./prolip_vit_b16_coop.py"]
task = dict(search=dict(split="val"))
