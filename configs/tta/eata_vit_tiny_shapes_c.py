# EATA (tta.md 1.8): ETA + Fisher regulariser (beta = fisher_alpha 2000, ImageNet default). The Fisher is
# computed once, before adaptation, on clean source-domain images: the 200 val200 images of the `shape` task
# (disjoint from the test split; the EATA author says 500 are enough, 200 is all this split has).
_base_ = ["../_base_/tta/shapes_c.py"]
method = dict(type="eata", e_margin_factor=0.4, d_margin=0.05, fisher_alpha=2000.0, fisher_size=200,
              optimizer=dict(type="SGD", lr=0.00025, momentum=0.9))
source_data = dict(type="ShapesDataset", task="shape", split="val200")
