# LoRA rank 4 on every attention projection of the UNet (self and cross: to_q, to_k, to_v, to_out.0), as diffusers'
# DreamBooth-LoRA script; gaussian init (B = 0, so the adapted model starts as the base model).
adapter = dict(type="lora", r=4, alpha=4.0, init="gaussian",
               target_modules=["unet.*.attn[12].to_q", "unet.*.attn[12].to_k", "unet.*.attn[12].to_v",
                               "unet.*.attn[12].to_out.0"])
