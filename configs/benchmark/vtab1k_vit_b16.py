# The PEFT comparison on real VTAB-1k (19 tasks) with ViT-B/16 IN-21k, run by
#     python tools/benchmark_peft.py configs/benchmark/vtab1k_vit_b16.py --jobs N
# Needs the NOAH/SSF VTAB-1k folders under data/vtab-1k/<task>/ (images + train800/val200/train800val200/test.txt)
# and the local weights named in _base_/models/vit_b16_in21k.py; nothing is downloaded. Not run in tests (only
# loaded and its task folders checked). Recipe: NOAH/VPT (no augmentation, direct resize to 224); lr searched on
# val200 per task, final runs on train800val200 -> test. Methods and run settings: _base_/benchmark/.
_base_ = [
    "../_base_/benchmark/peft_vit_b16_in21k.py",
    "../_base_/datasets/vtab_1k.py",
]
benchmark = dict(
    dataset=dict(type="VTABListDataset", root="data/vtab-1k/{task}"),
    # NOAH's folder names; the three VTAB groups.
    suite=dict(
        natural=["cifar", "caltech101", "dtd", "oxford_flowers102", "oxford_iiit_pet", "svhn", "sun397"],
        specialized=["patch_camelyon", "eurosat", "resisc45", "diabetic_retinopathy"],
        structured=["clevr_count", "clevr_dist", "dmlab", "kitti", "dsprites_loc", "dsprites_ori", "smallnorb_azi",
                    "smallnorb_ele"],
    ),
    lr_grid=[1e-3, 5e-3, 1e-2],  # methods without their own grid
    # Published ViT-B/16 IN-21k VTAB-1k results, mean of the three group means (../shared/reference/peft.md §2.3;
    # MoSA from the SNELL re-print, §1.7, flagged there as to be checked against the paper).
    published=dict(
        source="V-PETL Bench README via peft.md §2.3 (MoSA: SNELL Table 1)",
        convention="mean of group means",
        values=dict(linear_probe=57.64, bitfit=65.22, vpt_deep=71.97, ssf=75.69, lora=74.60, adaptformer=74.75,
                    mosa=71.4, full=68.97),
    ),
)
