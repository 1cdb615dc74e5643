# Runtime defaults shared by every run. Keys of `trainer` go straight to lightning.Trainer: set accelerator,
# devices, num_nodes, strategy ('ddp', 'fsdp', ...) and precision ('32-true', 'bf16-mixed', '16-mixed') here.
seed = 0
trainer = dict(
    accelerator="auto",
    devices=1,
    num_nodes=1,
    strategy="auto",
    precision="32-true",
    log_every_n_steps=5,
)
