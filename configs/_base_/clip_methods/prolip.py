# ProLIP (Fahes et al. 2024; clip.md 2): only the last visual projection trains, on 300 cached augmented views of
# the support set's pre-projection features (one full-batch step per view), loss CE on 100 * cos + (1/K) *
# ||W - W0||^2; Adam (eps 1e-4) with cosine decay over the 300 steps, lr 1e-5 (the reference's ViT-B/16 default).
# Experiment configs set trainer.max_epochs=1: one epoch = one step per cached view.
# Templates: the dataset's own (CoOp's per-dataset ones for CoOpDataset), else "a photo of a {}.".
task = dict(type="ProLIPTask", logit_scale=100.0, feature_views=300)
optimizer = dict(type="Adam", lr=1e-5, eps=1e-4)
scheduler = dict(type="cosine")
