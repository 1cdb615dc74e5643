"""The personalized-generation demo: ``python tools/demo.py [--host 127.0.0.1] [--port 7860] [--base sd_tiny_shapes]
[--runs work_dirs/demo]``. Train a subject in the Train tab (a run directory under --runs), sample it in Generate.
In the Video tab, tune SimDA or Tune-A-Video on the offline example clip or an uploaded video / GIF (a run
directory under --runs/video, which ``tools/generate.py RUN --video`` also edits), then edit the clip with a prompt
(written under the run's edits/). Binds to 127.0.0.1 (this machine only) unless --host says otherwise."""
from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex((host, port)) != 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: this machine only)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--base", default="sd_tiny_shapes", help="diffusers folder or model-zoo name")
    parser.add_argument("--runs", default="work_dirs/demo", help="where trained subjects and video runs are saved")
    parser.add_argument("--max-steps", type=int, default=1000, help="upper end of the training-steps slider")
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        print(f"error: --port must be in 1..65535, got {args.port}", file=sys.stderr)
        return 1
    if not port_free(args.host if args.host != "0.0.0.0" else "127.0.0.1", args.port):
        print(f"error: port {args.port} on {args.host} is in use; pick another with --port", file=sys.stderr)
        return 1
    try:
        from visadapt.demo.app import build_app

        app = build_app(args.base, args.runs, args.max_steps)
    except (FileNotFoundError, ValueError, ImportError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    # The Video tab shows clips written inside the runs folder, which may lie outside Gradio's default paths.
    app.queue().launch(server_name=args.host, server_port=args.port, allowed_paths=[str(Path(args.runs).resolve())])
    return 0


if __name__ == "__main__":
    sys.exit(main())
