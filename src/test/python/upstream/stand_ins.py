"""Minimal stand-ins, written for sora4j, for the third-party packages that upstream's code imports but that the golden
runs never exercise (or exercise trivially), so that upstream's own modules can be imported offline on a CPU.

Nothing here is upstream code. What each stand-in provides and why it is enough:

* ``transformers``: ``PretrainedConfig`` (stores its keyword arguments as attributes, as the real one does for unknown
  keys such as STDiT3's ``merge_steps``), ``PreTrainedModel`` (an ``nn.Module`` that keeps ``config``),
  ``AutoTokenizer``/``T5EncoderModel`` (names only: the golden runs encode text with sora4j's tiny T5).
* ``timm``: ``DropPath`` (identity: drop_path = 0 at inference) and ``Mlp`` (fc1 → act → fc2, the layout and submodule
  names of timm's ``Mlp`` with drop = 0 and no norm).
* ``mmengine.registry.Registry``: ``register_module`` returns the decorated object unchanged.
* ``colossalai`` (booster, checkpoint_io, cluster), ``torchvision.datasets.utils``, ``xformers.ops``: names only
  (checkpoint loading, downloads and the xformers kernels are not used; upstream's cross-attention uses its own
  ``supplementary.typical_sd_attention``).
* ``pandas.DataFrame``: a no-op (upstream's sampler builds CSV frames of the timesteps it never writes).

The real ``ftfy``, ``beautifulsoup4``, ``einops``, ``rotary_embedding_torch`` and ``tqdm`` are used, not stood in for.
"""

from __future__ import annotations

import sys
import types

import torch.nn as nn


def _module(name: str, **attrs) -> types.ModuleType:
    m = types.ModuleType(name)
    for k, v in attrs.items():
        setattr(m, k, v)
    sys.modules[name] = m
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, m)
    return m


class _PretrainedConfig:
    def __init__(self, **kwargs):
        for k, v in kwargs.items():
            setattr(self, k, v)


class _PreTrainedModel(nn.Module):
    config_class = None

    def __init__(self, config, *args, **kwargs):
        super().__init__()
        self.config = config


class _Mlp(nn.Module):
    def __init__(self, in_features, hidden_features=None, out_features=None, act_layer=nn.GELU, drop=0.0, **kw):
        super().__init__()
        out_features = out_features or in_features
        hidden_features = hidden_features or in_features
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = act_layer()
        self.fc2 = nn.Linear(hidden_features, out_features)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class _DropPath(nn.Identity):
    def __init__(self, *args, **kwargs):
        super().__init__()


class _Registry:
    def __init__(self, *args, **kwargs):
        pass

    def register_module(self, *args, **kwargs):
        if len(args) == 1 and callable(args[0]) and not isinstance(args[0], str):
            return args[0]
        return lambda obj: obj


class _Named:
    def __init__(self, *args, **kwargs):
        raise RuntimeError("stand-in: not available offline")


class _DataFrame:
    def __init__(self, *args, **kwargs):
        pass


def install() -> None:
    """Registers the stand-ins in ``sys.modules`` (only for packages that are not installed)."""
    import importlib.util

    def missing(name):
        return importlib.util.find_spec(name) is None

    if missing("transformers"):
        _module("transformers", PretrainedConfig=_PretrainedConfig, PreTrainedModel=_PreTrainedModel,
                AutoTokenizer=_Named, T5EncoderModel=_Named)
    if missing("timm"):
        _module("timm")
        _module("timm.models")
        _module("timm.models.layers", DropPath=_DropPath)
        _module("timm.models.vision_transformer", Mlp=_Mlp)
    if missing("mmengine"):
        _module("mmengine")
        _module("mmengine.registry", Registry=_Registry)
    if missing("colossalai"):
        _module("colossalai")
        _module("colossalai.booster", Booster=_Named)
        _module("colossalai.checkpoint_io", GeneralCheckpointIO=_Named)
        _module("colossalai.cluster")
        _module("colossalai.cluster.dist_coordinator", DistCoordinator=_Named)
    if missing("torchvision"):
        _module("torchvision")
        _module("torchvision.datasets")
        _module("torchvision.datasets.utils", download_url=_Named)
    if missing("xformers"):
        _module("xformers")
        _module("xformers.ops")
    if missing("pandas"):
        _module("pandas", DataFrame=_DataFrame)
