# EATA (tta.md 1.8): ETA + Fisher regulariser with the CIFAR10-C settings of mariodoebler's benchmark: fisher_alpha
# 1.0 on 2,000 clean source-domain images (a fresh draw of the `train` stream with data_seed 1: never trained on, and
# disjoint from the test split), E0 = 0.4 ln C, d_margin 0.4, Adam lr 1e-3.
_base_ = ["../_base_/tta/shapes_c_cnn.py"]
method = dict(type="eata", e_margin_factor=0.4, d_margin=0.4, fisher_alpha=1.0, fisher_size=2000,
              optimizer=dict(type="Adam", lr=1e-3, betas=(0.9, 0.999), weight_decay=0.0))
source_data = dict(type="ShapesDataset", task="shape", split="train", num_samples=2000, data_seed=1)
