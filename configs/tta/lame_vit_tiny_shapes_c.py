# LAME (tta.md 1.6): output-only Laplacian adjustment, rbf affinity, k 5, lambda 1, 100 iterations. Designed for
# class-correlated streams; on this i.i.d. stream it is expected to hurt (try --cfg-options stream.order=dirichlet).
_base_ = ["../_base_/tta/shapes_c.py"]
method = dict(type="lame", affinity="rbf", knn=5, bound_lambda=1.0, max_steps=100)
