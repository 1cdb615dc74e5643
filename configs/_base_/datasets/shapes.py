# The offline shapes world, VTAB-1k protocol: tune on train800 / val200; for the final number train on
# train800val200 (set data.val=None) and evaluate once on test. Experiment configs choose the task.
_task = "shape"
data = dict(
    train=dict(type="ShapesDataset", task=_task, split="train800"),
    val=dict(type="ShapesDataset", task=_task, split="val200"),
    test=dict(type="ShapesDataset", task=_task, split="test"),
    batch_size=32,
    eval_batch_size=200,
    num_workers=0,
)
