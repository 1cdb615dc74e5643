# The architecture of the project's tiny SAM (model_zoo/sam_tiny_shapes): segment_anything's own modules at
# 64x64 input, patch 8 (an 8x8 image embedding, 32x32 low-resolution masks), a 4-block encoder of width 64 with
# windowed attention (window 4) and global blocks 1 and 3, prompt / decoder width 32. 279K parameters.
backbone = dict(
    type="SAMBackbone",
    variant="custom",
    image_size=64,
    prompt_embed_dim=32,
    encoder=dict(embed_dim=64, depth=4, num_heads=4, patch_size=8, window_size=4, global_attn_indexes=[1, 3],
                 out_chans=32),
    decoder=dict(mlp_dim=128, num_heads=2, iou_head_hidden_dim=32, mask_in_chans=8),
)
