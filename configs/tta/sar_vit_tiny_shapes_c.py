# SAR (tta.md 1.9): reliable entropy + SAM (rho 0.05), model recovery at e_m 0.2. Norm layers of the top
# blocks are frozen: ViT-B freezes blocks 9-11 of 12 and the final norm; the depth-4 zoo ViT freezes its last
# block (blocks.3) and the final norm. ViT lr 0.001/64 * batch = 1e-3 at batch 64, SGD momentum 0.9.
_base_ = ["../_base_/tta/shapes_c.py"]
method = dict(type="sar", rho=0.05, e_margin_factor=0.4, reset_constant_em=0.2, norm_exclude=["blocks.3", "norm"],
              optimizer=dict(type="SGD", lr=1e-3, momentum=0.9))
