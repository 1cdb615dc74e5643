"""The demo's Video tab: tune SimDA or Tune-A-Video on the offline clip or an uploaded one (in the background,
with a progress bar), then edit the tuned clip with a prompt and watch the result."""
from __future__ import annotations

from pathlib import Path

from visadapt.demo.ui import progress_report, user_errors
from visadapt.demo.video import MIN_FRAMES, VIDEO_METHODS, edit_video, tune_video, tuned_videos


def video_tab(base: str, resolution: int, runs_root: Path, max_steps: int) -> None:
    """Adds the tab to the ``gr.Blocks`` being built."""
    import gradio as gr

    def tune(use_example, upload, caption, method, num_frames, steps, progress=gr.Progress()):
        if not use_example and upload is None:
            raise gr.Error("Upload a short video or GIF, or tick 'use the offline example clip'.")
        progress(0, desc="preparing (clip latents)")
        with user_errors():
            run = tune_video(None if use_example else upload, caption, method, num_frames, steps, base, resolution,
                             runs_root, report=progress_report(progress))
        return f"Done: {run.parent.name} saved in {run}", gr.update(choices=list(tuned_videos(runs_root)),
                                                                     value=run.parent.name)

    def run_edit(name, prompt, negative, steps, guidance):
        runs = tuned_videos(runs_root)
        if name not in runs:
            raise gr.Error("No tuned clip chosen: tune one above first (or pick one in 'tuned clip').")
        with user_errors():
            paths, source = edit_video(runs[name], prompt, negative, steps, guidance)
        return str(paths["mp4"]), str(paths["strip"]), str(source)

    with gr.Tab("Video"):
        gr.Markdown("One-shot video tuning (SimDA or Tune-A-Video), then edits of the clip: DDIM inversion of the "
                    f"clip, sampling with your prompt. Clips are resized to {resolution}x{resolution}.")
        use_example = gr.Checkbox(label="use the offline example clip (a red circle moving left to right on a "
                                        "dark background)", value=False)
        with gr.Row():
            upload = gr.File(label="or a short video or GIF", file_types=[".mp4", ".webm", ".mov", ".gif"],
                             type="filepath")
            caption = gr.Textbox(label="what the uploaded clip shows (its caption)", value="")
        with gr.Row():
            method = gr.Radio(list(VIDEO_METHODS), value="SimDA", label="video method")
            num_frames = gr.Slider(MIN_FRAMES, 24, value=8, step=1, label="frames")
            steps = gr.Slider(1, max_steps, value=min(300, max_steps), step=1, label="tuning steps")
        tune_button = gr.Button("Tune", variant="primary")
        status = gr.Textbox(label="tuning result", interactive=False)
        runs = list(tuned_videos(runs_root))
        run = gr.Dropdown(runs, value=runs[0] if runs else None, label="tuned clip")
        prompt = gr.Textbox(label="edit prompt", value="a blue circle moving left to right on a dark background")
        negative = gr.Textbox(label="edit negative prompt", value="")
        with gr.Row():
            edit_steps = gr.Slider(1, 100, value=25, step=1, label="edit steps")
            guidance = gr.Slider(0, 15, value=7.5, step=0.5, label="edit guidance")
        edit_button = gr.Button("Edit", variant="primary")
        with gr.Row():
            edited = gr.Video(label="edited clip", autoplay=True, loop=True)
            with gr.Column():
                edited_strip = gr.Image(label="edited frames", type="filepath")
                source_strip = gr.Image(label="source frames", type="filepath")
        tune_button.click(tune, [use_example, upload, caption, method, num_frames, steps], [status, run])
        edit_button.click(run_edit, [run, prompt, negative, edit_steps, guidance], [edited, edited_strip, source_strip])
