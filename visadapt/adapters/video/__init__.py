"""Video adapters on a stock image UNet: SimDA (latent-shift attention, temporal and spatial adapters) and the
Tune-A-Video baseline (sparse-causal and temporal attention, tuned queries)."""
from visadapt.adapters.video.attention import CrossFrameAttnProcessor
from visadapt.adapters.video.config import SimDAConfig, TuneAVideoConfig
from visadapt.adapters.video.layers import TemporalAttentionLayer, TemporalConvAdapter, TemporalConvLayer

__all__ = ["CrossFrameAttnProcessor", "SimDAConfig", "TemporalAttentionLayer", "TemporalConvAdapter",
           "TemporalConvLayer", "TuneAVideoConfig"]
