# CoOp (Zhou et al. 2022; clip.md 5.1): learnt context vectors before the class name ("[ctx] <class>."), shared by
# all classes, both encoders frozen, scored with CLIP's learnt temperature. SGD lr 2e-3, momentum 0.9, wd 5e-4,
# cosine, batch 32; 50 / 100 / 100 / 200 / 200 epochs for 1 / 2 / 4 / 8 / 16 shots. CoOp's one-epoch constant
# warm-up at 1e-5 is replaced by a linear warm-up over the first epoch.
task = dict(type="CLIPClassificationTask", logit_scale=None)
adapter = dict(type="coop", n_ctx=16)
optimizer = dict(type="SGD", lr=2e-3, momentum=0.9, weight_decay=5e-4)
scheduler = dict(type="cosine", warmup_epochs=1)
few_shot_schedule = dict(max_epochs={1: 50, 2: 100, 4: 100, 8: 200, 16: 200})
