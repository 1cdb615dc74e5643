# A VTAB-1k task from disk in the NOAH/SSF list format: ROOT/{train800,val200,train800val200,test}.txt with
# lines "relative/path.jpg label". No augmentation and a direct resize to 224, as in NOAH/SSF/MoSA.
_root = "data/vtab-1k/cifar"
_resize = [dict(type="Resize", height=224, width=224)]
data = dict(
    train=dict(type="VTABListDataset", root=_root, split="train800"),
    val=dict(type="VTABListDataset", root=_root, split="val200"),
    test=dict(type="VTABListDataset", root=_root, split="test"),
    train_transforms=_resize,
    test_transforms=_resize,
    batch_size=64,
    eval_batch_size=256,
    num_workers=4,
)
