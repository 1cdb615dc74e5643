"""An open_clip CLIP's text side in transformers' classes, for diffusers pipelines: ``CLIPTokenizer`` files built
from the BPE vocabulary open_clip ships (same ids as ``open_clip.tokenize``), and its text tower converted to a
``CLIPTextModel`` (same hidden states). This is how the model zoo's text-to-image model gets a text encoder
offline: from the project's own CLIP."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import torch
from torch import nn

START, END = "<|startoftext|>", "<|endoftext|>"


def _bpe_merges() -> list[tuple[str, str]]:
    from open_clip.tokenizer import default_bpe

    with gzip.open(default_bpe(), "rt", encoding="utf-8") as f:
        lines = f.read().split("\n")
    # open_clip's SimpleTokenizer uses the first 49152 - 256 - 2 merges, after a header line.
    return [tuple(line.split()) for line in lines[1:49152 - 256 - 2 + 1]]


def write_clip_tokenizer(folder: str | Path, context_length: int) -> Path:
    """``vocab.json`` + ``merges.txt`` of open_clip's BPE in ``folder`` and the tokenizer saved there."""
    from open_clip.tokenizer import bytes_to_unicode
    from transformers import CLIPTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    merges = _bpe_merges()
    symbols = list(bytes_to_unicode().values())
    vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges] + [START, END]
    (folder / "vocab.json").write_text(json.dumps({tok: i for i, tok in enumerate(vocab)}, ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n",
                                       encoding="utf-8")
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=context_length,
                              bos_token=START, eos_token=END, pad_token=END, unk_token=END)
    tokenizer.save_pretrained(folder)
    return folder


def text_tower_to_transformers(clip: nn.Module) -> nn.Module:
    """open_clip ``CLIP``'s text tower as a transformers ``CLIPTextModel`` with the same weights.

    open_clip pads with 0 after the end token and takes no padding mask in its causal text transformer, so the
    hidden states up to the end token match whatever the padding id; diffusers reads ``last_hidden_state``.
    """
    from transformers import CLIPTextConfig, CLIPTextModel

    blocks = clip.transformer.resblocks
    width = clip.token_embedding.weight.shape[1]
    act = getattr(blocks[0].mlp, "gelu", None)
    config = CLIPTextConfig(
        vocab_size=clip.token_embedding.weight.shape[0], hidden_size=width,
        intermediate_size=blocks[0].mlp.c_fc.out_features, num_hidden_layers=len(blocks),
        num_attention_heads=blocks[0].attn.num_heads, max_position_embeddings=clip.positional_embedding.shape[0],
        hidden_act="quick_gelu" if type(act).__name__ == "QuickGELU" else "gelu",
        layer_norm_eps=blocks[0].ln_1.eps, bos_token_id=49406, eos_token_id=49407, pad_token_id=49407,
        projection_dim=clip.text_projection.shape[1])
    model = CLIPTextModel(config).eval()
    # transformers 4 nests the modules under ``text_model.``; transformers 5 does not.
    root = "text_model." if any(k.startswith("text_model.") for k in model.state_dict()) else ""
    state = {"embeddings.token_embedding.weight": clip.token_embedding.weight,
             "embeddings.position_embedding.weight": clip.positional_embedding,
             "final_layer_norm.weight": clip.ln_final.weight,
             "final_layer_norm.bias": clip.ln_final.bias}
    for i, block in enumerate(blocks):
        prefix = f"encoder.layers.{i}."
        q, k, v = block.attn.in_proj_weight.chunk(3)
        qb, kb, vb = block.attn.in_proj_bias.chunk(3)
        state.update({
            prefix + "layer_norm1.weight": block.ln_1.weight, prefix + "layer_norm1.bias": block.ln_1.bias,
            prefix + "layer_norm2.weight": block.ln_2.weight, prefix + "layer_norm2.bias": block.ln_2.bias,
            prefix + "self_attn.q_proj.weight": q, prefix + "self_attn.q_proj.bias": qb,
            prefix + "self_attn.k_proj.weight": k, prefix + "self_attn.k_proj.bias": kb,
            prefix + "self_attn.v_proj.weight": v, prefix + "self_attn.v_proj.bias": vb,
            prefix + "self_attn.out_proj.weight": block.attn.out_proj.weight,
            prefix + "self_attn.out_proj.bias": block.attn.out_proj.bias,
            prefix + "mlp.fc1.weight": block.mlp.c_fc.weight, prefix + "mlp.fc1.bias": block.mlp.c_fc.bias,
            prefix + "mlp.fc2.weight": block.mlp.c_proj.weight, prefix + "mlp.fc2.bias": block.mlp.c_proj.bias,
        })
    state = {root + k: v.detach().clone() for k, v in state.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise ValueError(f"text tower conversion: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return model
