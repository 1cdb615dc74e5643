# A VTAB-1k-style PEFT benchmark on the offline shapes world, run by `python tools/benchmark_peft.py THIS_FILE`.
#
# The `_base_` files give the base experiment every run starts from (model-zoo ViT, shapes data with the
# train800 / val200 / test splits, AdamW + cosine schedule); `benchmark` describes the suite, the methods, the
# learning-rate grid searched on val200 and the seeds of the final runs (train800val200 -> one test evaluation).
_base_ = [
    "../_base_/models/vit_tiny_shapes.py",
    "../_base_/datasets/shapes.py",
    "../_base_/schedules/adamw_cosine_20e.py",
]
trainer = dict(enable_progress_bar=False, enable_model_summary=False)

# Three-point lr grids (searched on val200). A first run with two points picked the upper end for most method x
# task pairs, so every grid reaches one step further up.
_HEAD_LR = [1e-3, 3e-3, 1e-2]  # PEFT methods: few parameters, larger steps

benchmark = dict(
    # Every task's data: this dataset with "{task}" filled in and `split` set by the protocol (train800 -> val200
    # for the lr search, train800val200 -> test for the final runs).
    dataset=dict(type="ShapesDataset", task="{task}", image_size=32),
    # Three groups in the VTAB spirit: appearance of one object ("natural"), fine attributes and clutter
    # ("specialised"), and geometry / counting ("structured").
    suite=dict(
        natural=["shape", "color", "texture", "background"],
        specialized=["shape_multi", "size"],
        structured=["count", "position", "orientation", "distance"],
    ),
    # name -> dict(adapter=..., optional optimizer=... (merged into the base optimizer), optional lr_grid=[...]).
    methods=dict(
        linear_probe=dict(adapter=dict(type="linear_probe"), lr_grid=[3e-3, 1e-2, 3e-2]),
        bitfit=dict(adapter=dict(type="bitfit"), lr_grid=_HEAD_LR),
        vpt_deep=dict(adapter=dict(type="vpt", num_tokens=10, deep=True), lr_grid=_HEAD_LR),
        ssf=dict(adapter=dict(type="ssf"), lr_grid=_HEAD_LR),
        lora=dict(adapter=dict(type="lora", r=8, alpha=8, target_modules=["blocks.*.attn.qkv"]), lr_grid=_HEAD_LR),
        # HF PEFT's DoRA through the bridge, on the same modules and rank as `lora`.
        dora_peft=dict(adapter=dict(type="peft", peft_type="LORA", target_modules=["blocks.*.attn.qkv"],
                                    peft_kwargs=dict(r=8, lora_alpha=8, use_dora=True)), lr_grid=_HEAD_LR),
        # The AdaptFormer-style adapter MoSA is built from (own LayerNorm on the residual stream, GELU), so that
        # merged MoSA (below, same width, recipe defaults otherwise) is exactly this model.
        adapter=dict(adapter=dict(type="adaptformer", hidden_dim=8, layer_norm=True, act="gelu"), lr_grid=_HEAD_LR),
        mosa=dict(adapter=dict(type="mosa", hidden_dim=8), lr_grid=_HEAD_LR),
        full=dict(adapter=dict(type="full"), lr_grid=[1e-4, 3e-4, 1e-3]),
    ),
    lr_grid=_HEAD_LR,  # default for a method without its own grid
    epochs=20,
    seeds=[0, 1, 2],
    # Cost measurement (step time / peak memory vs full fine-tuning, merged inference vs the base model).
    measure=dict(steps=20, forwards=40),  # image size and batch: the dataset's and data.batch_size
)
