# ProLIP with its few-shot validation protocol (clip.md 2.2, the LP++ setting) on the offline default:
#     python tools/train.py configs/prolip/prolip_clip_tiny_shapes_fewval.py --cfg-options data.train.shots=4
# lr and lambda are not fixed: K images per class are drawn from the val200 split (with the run's seed; disjoint
# from the support set, which comes from the train split, and from the test split), each of the reference's 7 x 7
# pairs lr in {1e-2 .. 1e-8} x lambda in {10, 1, 0.1, 0.01, 1e-3, 1e-4, 0} is trained from W0 and scored on them,
# and the final run trains with the best pair (grid and draw in the run's prolip_search.json). The test split is
# used once, by the final run, as in every other config.
_base_ = ["./prolip_clip_tiny_shapes.py"]
task = dict(search=dict(split="val200"))
