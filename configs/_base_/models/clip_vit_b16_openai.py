# OpenAI's CLIP ViT-B/16 from a local file. OpenAI's weights were trained with QuickGELU, so the model name is
# ViT-B-16-quickgelu (plain ViT-B-16 would silently use GELU; clip.md 4.1). The file: open_clip's
# open_clip_pytorch_model.bin / .safetensors from a local copy of timm/vit_base_patch16_clip_224.openai, or OpenAI's
# ViT-B-16.pt converted once to a state dict (TorchScript archives cannot be read with weights_only=True).
backbone = dict(type="OpenCLIPBackbone", name="ViT-B-16-quickgelu",
                pretrained="checkpoints/clip_vit_b16_openai/open_clip_pytorch_model.bin")
