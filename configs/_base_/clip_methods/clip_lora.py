# CLIP-LoRA (Zanella & Ben Ayed 2024; clip.md 1): rank-2 LoRA on q, k, v of every attention block of both towers,
# alpha 1 with alpha/sqrt(r) scaling, dropout 0.25 on the LoRA input, A Kaiming / B zero; AdamW lr 2e-4, wd 1e-2,
# cosine per iteration to 1e-6; batch 32 (the data config); 500 x K iterations; CE on 100 * cos with
# "a photo of a {}."; last iterate tested once. Needs backbone.split_attention=True (set in the experiment config).
task = dict(type="CLIPClassificationTask", templates=["a photo of a {}."], logit_scale=100.0)
adapter = dict(
    type="lora",
    target_modules=["visual.transformer.resblocks.*.attn.[qkv]_proj", "transformer.resblocks.*.attn.[qkv]_proj"],
    r=2,
    alpha=1,
    use_rslora=True,  # alpha / sqrt(r)
    dropout=0.25,
)
optimizer = dict(type="AdamW", lr=2e-4, weight_decay=1e-2, betas=(0.9, 0.999))
scheduler = dict(type="cosine", min_lr=1e-6)
few_shot_schedule = dict(max_steps_per_shot=500)
checkpoint = dict(every_n_train_steps=500)  # with K=1 an epoch can be one step: not a checkpoint per step
