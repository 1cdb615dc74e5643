# Counting (1-6 objects): a structured task the source model was never trained on.
_base_ = ["./shapes.py"]
_task = "count"
data = dict(train=dict(task=_task), val=dict(task=_task), test=dict(task=_task))
