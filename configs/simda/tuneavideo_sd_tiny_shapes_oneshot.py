# The baseline SimDA is compared with: Tune-A-Video's recipe (sparse-causal attention to frames 0 and f-1, temporal
# attention after each transformer block, attn1/attn2 queries tuned) on the same clip and edits:
#     python tools/train.py configs/simda/tuneavideo_sd_tiny_shapes_oneshot.py
# Tune-A-Video's lr is 3e-5 where SimDA's is 5e-5 (SD-1.4); the same ratio on the tiny model gives 6e-4.
_base_ = ["./simda_sd_tiny_shapes_oneshot.py"]
adapter = dict(_delete_=True, type="tune_a_video", temporal_attention=True, train_queries=True)
optimizer = dict(lr=6e-4)
