"""Generation helpers around ``DiffusionBackbone``: latent caches and class images (``data``), LoRA exports in
diffusers' and kohya's formats (``lora_export``), sampling (``sampling``) and personalization metrics
(``metrics``). Imported on demand: they need diffusers."""
