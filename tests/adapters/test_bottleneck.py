"""Bottleneck placements checked against the block maths written out by hand."""
import torch

from visadapt import adapters as A


def _set_adapter(layer, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in layer.adapter.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)


def test_adaptformer_is_parallel_to_the_mlp_on_the_residual_stream(tiny_vit, images):
    backbone = tiny_vit()
    A.inject(backbone.model, dict(type="adaptformer", hidden_dim=3, scale=0.1))
    block = backbone.model.blocks[0]
    _set_adapter(block.mlp)
    x = torch.randn(2, 5, 24)
    h = x + block.attn(block.norm1(x))
    adapter = block.mlp.adapter
    expected = h + block.mlp.base_layer(block.norm2(h)) + 0.1 * adapter.up(adapter.act(adapter.down(h)))
    torch.testing.assert_close(block(x), expected)


def test_houlsby_is_sequential_after_attention_and_mlp(tiny_vit):
    backbone = tiny_vit()
    A.inject(backbone.model, dict(type="houlsby", hidden_dim=3))
    block = backbone.model.blocks[1]
    _set_adapter(block.attn, 1)
    _set_adapter(block.mlp, 2)

    def seq(layer, y):
        a = layer.adapter
        return y + a.up(a.act(a.down(y)))

    x = torch.randn(2, 5, 24)
    h = x + seq(block.attn, block.attn.base_layer(block.norm1(x)))
    expected = h + seq(block.mlp, block.mlp.base_layer(block.norm2(h)))
    torch.testing.assert_close(block(x), expected)
    assert isinstance(block.attn.adapter.act, torch.nn.SiLU)


def test_adapter_weights_get_gradients_from_the_first_step(tiny_vit, images):
    """Down random / up zero: the up weight gets a gradient at once (both-zero init would give none)."""
    backbone = tiny_vit().train()
    A.inject(backbone.model, dict(type="pfeiffer", hidden_dim=3))
    backbone(images).square().sum().backward()
    up = backbone.model.blocks[0].mlp.adapter.up.weight
    assert up.grad is not None and up.grad.abs().sum() > 0
