# The PEFT comparison on FGVC (CUB-200-2011, NABirds, Oxford Flowers, Stanford Dogs, Stanford Cars) with ViT-B/16
# IN-21k:
#     python tools/benchmark_peft.py configs/benchmark/fgvc_vit_b16.py --jobs N
# Needs VPT's FGVC layout under data/fgvc/<task>/ ({train,val,test}.json + images) and the local weights of
# _base_/models/vit_b16_in21k.py; nothing is downloaded. Not run in tests (only loaded and checked). Protocol as VPT:
# lr chosen on val after training on train, final runs on train+val ("trainval"), one test evaluation; train-time
# augmentation resize 256 -> random crop 224 -> flip, test resize 256 -> centre crop 224. Methods: _base_/benchmark/.
_base_ = ["../_base_/benchmark/peft_vit_b16_in21k.py"]
data = dict(
    train_transforms=[dict(type="Resize", height=256, width=256), dict(type="RandomCrop", height=224, width=224),
                      dict(type="HorizontalFlip")],
    test_transforms=[dict(type="Resize", height=256, width=256), dict(type="CenterCrop", height=224, width=224)],
    batch_size=64,
    eval_batch_size=256,
    num_workers=8,
)
benchmark = dict(
    dataset=dict(type="FGVCJsonDataset", root="data/fgvc/{task}"),
    splits=dict(select_train="train", select_val="val", final_train="trainval", test="test"),
    # VPT's folder names; images sit under image_dir inside each.
    suite=dict(fgvc=["CUB_200_2011", "nabirds", "OxfordFlower", "Stanford-dogs", "Stanford-cars"]),
    task_data=dict(CUB_200_2011=dict(image_dir="images"), nabirds=dict(image_dir="images"),
                   **{"Stanford-dogs": dict(image_dir="Images")}),
    lr_grid=[5e-4, 1e-3, 5e-3],  # methods without their own grid
    methods=dict(mosa=dict(adapter=dict(hidden_dim=64))),  # MoSA's FGVC recipe: bottleneck 64 (peft.md §1.7)
    published=dict(
        source="V-PETL Bench README via peft.md §2.3 (MoSA: SNELL Table 1)",
        convention="mean over the 5 tasks",
        values=dict(linear_probe=79.32, bitfit=88.02, vpt_deep=89.10, ssf=90.72, lora=84.78, adaptformer=88.48,
                    mosa=89.9, full=88.54),
    ),
)
