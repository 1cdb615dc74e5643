"""The Gradio app: Train (a subject, in the background, with a progress bar), Generate (base model or trained
subjects, two at once with weights) and Video (tune on a clip, then edit it with a prompt)."""
from __future__ import annotations

import random
from pathlib import Path

from visadapt.demo.training import METHODS, personalize, trained_subjects
from visadapt.demo.ui import progress_report, user_errors
from visadapt.demo.video_tab import video_tab

BASE = "base model (no subject)"


def build_app(base: str = "sd_tiny_shapes", runs_root: str | Path = "work_dirs/demo", max_steps: int = 1000):
    """The ``gr.Blocks`` app over the diffusers model ``base`` (a folder or model-zoo name); runs go to
    ``runs_root``."""
    import gradio as gr

    from visadapt.backbones import DiffusionBackbone
    from visadapt.generation.sampling import generate
    from visadapt.generation.subjects import pipeline_with_subjects

    runs_root = Path(runs_root)
    backbone = DiffusionBackbone(pretrained=base)  # what Generate samples from (and checks base exists up front)
    resolution = backbone.resolution

    def subject_choices() -> list[str]:
        return [BASE, *trained_subjects(runs_root)]

    def train(files, use_example, trigger, noun, method, steps, progress=gr.Progress()):
        if not use_example and not files:
            raise gr.Error("Upload 3-10 images of the subject, or tick 'use the offline example subject'.")
        progress(0, desc="preparing (latents, class images)")
        with user_errors():
            run = personalize(None if use_example else [f if isinstance(f, str) else f.name for f in files],
                              trigger, noun, method, int(steps), base, resolution, runs_root,
                              report=progress_report(progress))
        choices = subject_choices()
        return (f"Done: {run.parent.name} saved in {run}",
                gr.update(choices=choices, value=run.parent.name), gr.update(choices=choices))

    def sample(subject, second, second_weight, prompt, negative, scale, seed, randomize, steps, guidance, width,
               height, num):
        seed = random.randint(0, 2**31 - 1) if randomize else int(seed)
        known = trained_subjects(runs_root)
        chosen = [(known[name], w) for name, w in ((subject, scale), (second, second_weight)) if name in known]
        with user_errors():
            pipe = pipeline_with_subjects(backbone, [p for p, _ in chosen], [float(w) for _, w in chosen])
            images = generate(backbone, [prompt] * int(num), [seed + k for k in range(int(num))], steps=int(steps),
                              guidance_scale=float(guidance), negative_prompt=negative or None, height=int(height),
                              width=int(width), pipe=pipe)
        return images, seed

    with gr.Blocks(title="visadapt: personalized generation") as app:
        gr.Markdown(f"# visadapt: personalized text-to-image and video editing\n"
                    f"Base model: `{base}` ({resolution}x{resolution})")
        with gr.Tab("Train"):
            files = gr.File(label="3-10 images of your subject", file_count="multiple", file_types=["image"])
            use_example = gr.Checkbox(label="use the offline example subject (a pink star with rings)", value=False)
            with gr.Row():
                trigger = gr.Textbox(label="trigger word", value="zwx")
                noun = gr.Textbox(label="class noun", value="star")
            method = gr.Radio(list(METHODS), value="LoRA + CAT", label="method")
            steps = gr.Slider(1, max_steps, value=min(300, max_steps), step=1, label="training steps")
            train_button = gr.Button("Train", variant="primary")
            status = gr.Textbox(label="status", interactive=False)
        with gr.Tab("Generate"):
            with gr.Row():
                subject = gr.Dropdown(subject_choices(), value=BASE, label="subject")
                scale = gr.Slider(0, 2, value=1.0, step=0.05, label="LoRA scale")
            with gr.Row():
                second = gr.Dropdown(subject_choices(), value=BASE, label="second subject (optional)")
                second_weight = gr.Slider(0, 2, value=1.0, step=0.05, label="its weight")
            prompt = gr.Textbox(label="prompt", value="zwx, a star on a light background")
            negative = gr.Textbox(label="negative prompt", value="")
            with gr.Row():
                seed = gr.Number(label="seed", value=0, precision=0)
                randomize = gr.Checkbox(label="randomise seed", value=False)
                num = gr.Slider(1, 8, value=4, step=1, label="images")
            with gr.Row():
                sample_steps = gr.Slider(1, 100, value=25, step=1, label="steps")
                guidance = gr.Slider(0, 15, value=5.0, step=0.5, label="guidance")
            with gr.Row():
                multiple = backbone.vae_scale * 2 ** (len(backbone.unet.config.block_out_channels) - 1)
                width = gr.Slider(multiple, 4 * resolution, value=resolution, step=multiple, label="width")
                height = gr.Slider(multiple, 4 * resolution, value=resolution, step=multiple, label="height")
            generate_button = gr.Button("Generate", variant="primary")
            gallery = gr.Gallery(label="images", columns=4)
            used_seed = gr.Number(label="seed used", precision=0, interactive=False)
        video_tab(base, resolution, runs_root, max_steps)
        train_button.click(train, [files, use_example, trigger, noun, method, steps], [status, subject, second])
        generate_button.click(sample, [subject, second, second_weight, prompt, negative, scale, seed, randomize,
                                       sample_steps, guidance, width, height, num], [gallery, used_seed])
    return app
