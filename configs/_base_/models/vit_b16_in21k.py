# ViT-B/16 with the original Google ImageNet-21k weights used by the visual PEFT literature (VPT, NOAH, SSF,
# MoSA). In timm this is `vit_base_patch16_224.orig_in21k`; download its model.safetensors once on a machine
# with access and point `pretrained` at the local file (visadapt never downloads at run time).
backbone = dict(
    type="TimmBackbone",
    name="vit_base_patch16_224.orig_in21k",
    pretrained="checkpoints/vit_base_patch16_224.orig_in21k.safetensors",
)
