# SimDA one-shot video tuning on the offline clip (the model-zoo text-to-image model, 8 frames at 16x16 latents):
#     python tools/train.py configs/simda/simda_sd_tiny_shapes_oneshot.py
#     python tools/generate.py work_dirs/simda_sd_tiny_shapes_oneshot --video \
#         --prompt "a blue circle moving left to right on a dark background" --out edits/
# Latent-shift attention in every attn1, temporal adapters (C/2 bottleneck, depth-wise 3x1x1 over time) after each
# ResNet that feeds a transformer, spatial adapters (ratio 0.25) on attn1 and beside each feed-forward. SimDA's lr
# is 5e-5 on SD-1.4; the tiny model takes 1e-3 (as its LoRA configs), and Tune-A-Video's baseline keeps the papers'
# 3:5 ratio.
_base_ = ["../_base_/models/sd_tiny_shapes.py", "../_base_/datasets/shapes_clip.py",
          "../_base_/schedules/video_oneshot_300steps.py"]
adapter = dict(type="simda", temporal_ratio=0.5, spatial_ratio=0.25, latent_shift=True)
task = dict(type="VideoTuningTask", sample_steps=25, guidance_scale=7.5)
