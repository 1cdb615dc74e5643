# The method list and run settings shared by the real-data PEFT benchmarks (VTAB-1k, FGVC) on ViT-B/16 IN-21k from a
# local file: 100 epochs, AdamW + cosine with 10 warm-up epochs, bf16 on a GPU, three seeds. The benchmark configs
# add the data (dataset template, suite, splits), the lr grid of the methods without their own, and the
# published numbers.
_base_ = [
    "../models/vit_b16_in21k.py",
    "../schedules/adamw_cosine_100e.py",
]
trainer = dict(precision="bf16-mixed", enable_progress_bar=False, enable_model_summary=False)
scheduler = dict(warmup_epochs=10)
benchmark = dict(
    methods=dict(
        linear_probe=dict(adapter=dict(type="linear_probe"), lr_grid=[1e-3, 1e-2]),
        bitfit=dict(adapter=dict(type="bitfit")),
        # VPT tunes the number of prompt tokens per task; one count for every task here.
        vpt_deep=dict(adapter=dict(type="vpt", num_tokens=10, deep=True)),
        ssf=dict(adapter=dict(type="ssf"), optimizer=dict(weight_decay=5e-5)),  # SSF recipe: wd 5e-5
        lora=dict(adapter=dict(type="lora", r=8, alpha=8, target_modules=["blocks.*.attn.qkv"])),  # NOAH LoRA-8
        adaptformer=dict(adapter=dict(type="adaptformer", hidden_dim=8)),
        mosa=dict(adapter=dict(type="mosa", hidden_dim=16), optimizer=dict(weight_decay=0.01)),  # MoSA VTAB recipe
        full=dict(adapter=dict(type="full"), lr_grid=[1e-4, 5e-4, 1e-3]),
    ),
    epochs=100,
    seeds=[0, 1, 2],
    measure=dict(steps=20, forwards=40, image_size=224),
)
