# Medical-SAM-Adapter / AdapterShadow placement (gen_seg.md 1.5): in every image-encoder block a bottleneck adapter
# (width D/4, GELU) after the attention on its output with a skip ("Space_Adapter"), and one parallel to the MLP on
# the MLP's (normalised) input, scaled by 0.5 ("MLP_Adapter": x + mlp(xn) + 0.5 * A(xn)); the mask decoder trains.
# Up-projections start at zero (visadapt's adapter init), so the adapted model starts as the source model.
# _hidden is D/4 for the model-zoo SAM (D = 64); 192 for ViT-B.
_hidden = 16
adapter = [
    dict(type="houlsby", target_modules=["image_encoder.blocks.*.attn"], hidden_dim=_hidden, act="gelu"),
    dict(type="adaptformer", target_modules=["image_encoder.blocks.*.mlp"], hidden_dim=_hidden, act="gelu",
         scale=0.5, dropout=0.0, input_from=None),
]
task = dict(type="SegmentationTask", prompt=dict(mode="none"), train_decoder=True, loss=dict(bce=1.0, dice=1.0))
