# LAME (tta.md 1.6): output-only Laplacian adjustment of the source model's predictions (BatchNorm with source
# statistics), rbf affinity, k 5, lambda 1, 100 iterations (mariodoebler's CIFAR settings). Meant for
# class-correlated streams; on the i.i.d. stream it is expected to hurt.
_base_ = ["../_base_/tta/shapes_c_cnn.py"]
method = dict(type="lame", affinity="rbf", knn=5, bound_lambda=1.0, max_steps=100)
