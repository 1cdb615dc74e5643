# MSA-style clicks: the adapters of adapter_sam_tiny_shapes_shadow.py, each image prompted with one click drawn from
# its shadow mask and one from the background (MSA's random positive click, plus a negative), as in training and
# in testing (the test split's clicks are fixed by the seed).
_base_ = ["./adapter_sam_tiny_shapes_shadow.py"]
task = dict(prompt=dict(mode="points", positives=1, negatives=1))
