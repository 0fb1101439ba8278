"""Golden files from upstream On-device Sora (eai-lab/On-device-Sora, commit 47a90a5), for sora4j's parity tests.

This script contains no upstream code: it imports upstream's modules from the directory given with ``--upstream``
(``<checkout>/Modded_Open_Sora``), runs them offline on the CPU in float32, and writes their outputs under
``src/test/resources/upstream/``. See the README there for the exact command and what each file holds.

What runs from upstream, unmodified:

* ``opensora.models.text_encoder.t5.text_preprocessing`` / ``clean_caption`` and
  ``opensora.utils.inference_utils.append_score_to_prompts`` (prompt preparation, with the real ftfy and bs4);
* ``opensora.schedulers.rf.RFLOW`` (timestep schedule, CFG Euler sampler, dynamic LPL) and its
  ``get_dynamic_noise_schedule`` (the same timestep code ``sample`` runs);
* ``opensora.models.stdit.stdit3.STDiT3`` with ``merge_steps`` (TDTM through ``opensora.models.stdit.merge``) and
  ``opensora.models.stdit.merge.merge``/``unmerge`` directly.

One adjustment, outside upstream's files: upstream's ``Attention.forward`` calls ``self.rotary_emb(q, k)`` with
``rotary_emb = RotaryEmbedding.rotate_queries_or_keys``, whose second parameter is ``seq_dim``, so the temporal blocks
fail with rotary-embedding-torch; each temporal block's ``attn.rotary_emb`` is replaced by
``lambda q, k: (rotate(q), rotate(k))``, which is what upstream's Device_conversion copy of the same class does
(``q = self.rotary_emb(q); k = self.rotary_emb(k)``).

Weights, text encoder and noise come from sora4j's committed tiny-random pack (``sora4j_export.tiny``): the STDiT
state dict is loaded into upstream's ``STDiT3`` (same parameter names); prompts are encoded with the tiny T5 and
tokenizer after upstream's preparation; ``z0 = torch.manual_seed(seed); torch.randn(...)``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[3]
UPSTREAM_COMMIT = "47a90a5"
OUT_DEFAULT = REPO / "src" / "test" / "resources" / "upstream"

# (name, prompt, seed, frames, height, width, steps, merge_steps, timestep transform)
# T = 4 needs fewer than 17 frames, where upstream's transform divides 0 by 0 (its nf = frames // 17 * 5 = 0), so
# that run samples without the transform.
RUNS = [
    ("tdtm_t4", "a red ball bouncing slowly on the beach at sunset", 11, 16, 32, 40, 4, 4, False),
    ("tdtm_t15", "a red ball bouncing slowly on the beach at sunset", 12, 51, 32, 40, 4, 4, True),
    ("tdtm_t20", "two white birds flying over the sea", 13, 68, 32, 40, 4, 4, True),
    ("tdtm_t30", "two white birds flying over the sea", 14, 102, 32, 32, 4, 4, True),
    ("sample_51f_k30", "A red ball bouncing slowly on the beach at sunset!", 42, 51, 32, 40, 30, 15, True),
    ("sample_68f_k16", "Two white birds flying over the sea, https://example.com", 7, 68, 32, 40, 16, 8, True),
]

SCHEDULES = [  # (steps, frames, height, width)
    (30, 51, 256, 256), (30, 68, 256, 256), (16, 68, 256, 256), (30, 51, 240, 426), (30, 102, 32, 32),
    (30, 17, 152, 152), (30, 17, 8, 8), (30, 1, 256, 256), (30, 34, 64, 64), (16, 51, 32, 40), (30, 68, 32, 40),
]


def load_upstream(root: Path):
    """Imports upstream's modules from ``root`` (``Modded_Open_Sora``) without running their packages' ``__init__``
    files (which import every model and dataset); stand-ins cover the missing third-party packages."""
    sys.path.insert(0, str(HERE))
    import stand_ins

    stand_ins.install()
    sys.path.insert(0, str(root))
    for pkg in ("opensora", "opensora.models", "opensora.models.stdit", "opensora.models.text_encoder",
                "opensora.models.layers", "opensora.schedulers", "opensora.schedulers.iddpm", "opensora.utils",
                "opensora.acceleration"):
        m = types.ModuleType(pkg)
        m.__path__ = [str(root.joinpath(*pkg.split(".")))]
        sys.modules[pkg] = m
    # opensora.datasets (video IO) is not needed: inference_utils only imports two names from it
    ds = types.ModuleType("opensora.datasets")
    ds.__path__ = []
    ds.IMG_FPS = 120
    sys.modules["opensora.datasets"] = ds
    dsu = types.ModuleType("opensora.datasets.utils")
    dsu.read_from_path = None
    sys.modules["opensora.datasets.utils"] = dsu
    import importlib

    up = types.SimpleNamespace()
    t5 = importlib.import_module("opensora.models.text_encoder.t5")
    up.text_preprocessing = t5.text_preprocessing
    up.clean_caption = t5.clean_caption
    up.T5Encoder = t5.T5Encoder
    up.append_score_to_prompts = importlib.import_module("opensora.utils.inference_utils").append_score_to_prompts
    up.merge = importlib.import_module("opensora.models.stdit.merge")
    stdit3 = importlib.import_module("opensora.models.stdit.stdit3")
    up.STDiT3, up.STDiT3Config = stdit3.STDiT3, stdit3.STDiT3Config
    up.RFLOW = importlib.import_module("opensora.schedulers.rf").RFLOW
    return up


def prepare(up, prompt: str) -> str:
    """Upstream inference.py's order: append the aesthetic score (aes = 6.5 in the v1.2 sample config), then
    ``text_preprocessing`` (clean_caption twice)."""
    return up.text_preprocessing(up.append_score_to_prompts([prompt], aes=6.5)[0])


def additional_args(frames, height, width, fps=24):
    f32 = torch.float32
    return dict(height=torch.tensor([height], dtype=f32), width=torch.tensor([width], dtype=f32),
                num_frames=torch.tensor([frames], dtype=f32), ar=torch.tensor([height / width], dtype=f32),
                fps=torch.tensor([fps], dtype=f32))


def schedules(up):
    out = {}
    for steps, frames, h, w in SCHEDULES:
        rf = up.RFLOW(num_sampling_steps=steps, num_timesteps=1000, cfg_scale=7.0, use_timestep_transform=True)
        z = torch.zeros(1)
        ts = rf.get_dynamic_noise_schedule(steps, z, "cpu", additional_args(frames, h, w))
        out[f"schedule_k{steps}_f{frames}_{h}x{w}"] = np.array([float(t) for t in ts], dtype=np.float32)
    return out


def merges(up):
    out = {}
    g = torch.Generator().manual_seed(3)
    for T in (3, 4, 7, 15, 20, 30):
        x = torch.randn(6, T, 5, generator=g)
        m = up.merge.merge(x)
        out[f"merge_t{T}_in"] = x.numpy()
        out[f"merge_t{T}_merged"] = m.numpy()
        out[f"merge_t{T}_unmerged"] = up.merge.unmerge(m).numpy()
    return out


class TinyTextEncoder:
    """Upstream's text-encoder interface (encode/null) over sora4j's tiny T5; ``null`` is upstream's T5Encoder.null."""

    def __init__(self, up, tiny, y_embedder):
        self.up, self.tiny, self.y_embedder = up, tiny, y_embedder
        self.model_max_length = tiny.max_length

    def encode(self, texts):
        ids, mask = self.tiny.tokenizer.encode(texts[0], self.model_max_length)
        ids = torch.as_tensor(np.asarray(ids), dtype=torch.int64).reshape(1, -1)
        mask = torch.as_tensor(np.asarray(mask), dtype=torch.int64).reshape(1, -1)
        with torch.no_grad():
            y = self.tiny.t5(ids, mask)
        if isinstance(y, (tuple, list)):
            y = y[0]
        return dict(y=y.float()[:, None], mask=mask)

    def null(self, n):
        return self.up.T5Encoder.null(self, n)


def upstream_stdit(up, tiny, merge_steps):
    c = tiny.stdit_config
    cfg = up.STDiT3Config(hidden_size=c.hidden_size, depth=c.depth, num_heads=c.num_heads,
                          caption_channels=c.caption_channels, model_max_length=c.model_max_length,
                          patch_size=tuple(c.patch_size), in_channels=c.in_channels, qk_norm=True,
                          pred_sigma=True, merge_steps=merge_steps)
    model = up.STDiT3(cfg)
    missing, unexpected = model.load_state_dict(tiny.stdit.state_dict(), strict=False)
    missing = [k for k in missing if not k.endswith("rope.freqs")]
    if missing or unexpected:
        raise RuntimeError(f"state dict mismatch: missing {missing}, unexpected {unexpected}")
    for block in model.temporal_blocks:
        rotate = block.attn.rotary_emb
        block.attn.rotary_emb = lambda q, k, rotate=rotate: (rotate(q), rotate(k))
    return model.eval()


def sample_run(up, tiny, name, prompt, seed, frames, height, width, steps, merge_steps, transform):
    T, hl, wl = tiny.vae_config.latent_size(frames, height, width)
    model = upstream_stdit(up, tiny, merge_steps)
    encoder = TinyTextEncoder(up, tiny, model.y_embedder)
    torch.manual_seed(seed)
    z0 = torch.randn([1, 4, T, hl, wl])
    fed = []

    def traced(z_in, t, **kw):
        fed.append(float(t[0]))
        return model(z_in, t, **kw)

    text = prepare(up, prompt)
    rf = up.RFLOW(num_sampling_steps=steps, num_timesteps=1000, cfg_scale=7.0, use_timestep_transform=transform)
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        os.chdir(tmp)  # upstream's sample() pickles z and y into "./{SAVE_PATH}"
        try:
            z = rf.sample(traced, encoder, z0.clone(), [text], "cpu",
                          additional_args=additional_args(frames, height, width), progress=False)
        finally:
            os.chdir(cwd)
    return {
        f"{name}.prompt": prompt, f"{name}.text": text, f"{name}.seed": seed, f"{name}.frames": frames,
        f"{name}.height": height, f"{name}.width": width, f"{name}.steps": steps, f"{name}.merge_steps": merge_steps,
        f"{name}.timestep_transform": transform, f"{name}.latent_size": [T, hl, wl],
    }, {
        f"{name}_z0": z0.numpy(), f"{name}_timesteps": np.array(fed, dtype=np.float32),
        f"{name}_z_final": z.float().numpy(),
    }


def captions(up):
    prompts = json.loads((HERE / "caption_prompts.json").read_text(encoding="utf-8"))
    return [{"prompt": p, "clean": up.text_preprocessing(p), "prepared": prepare(up, p)} for p in prompts]


def save_npz(path: Path, arrays: dict):
    import io
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for k in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[k]), allow_pickle=False)
            info = zipfile.ZipInfo(k + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--upstream", required=True, help="<On-device-Sora checkout at 47a90a5>/Modded_Open_Sora")
    p.add_argument("--out", default=str(OUT_DEFAULT))
    p.add_argument("--only", choices=["captions", "schedules", "merges", "runs"], action="append")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    sys.path.insert(0, str(REPO / "src" / "main" / "python"))
    up = load_upstream(Path(a.upstream).resolve())
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    only = set(a.only or ["captions", "schedules", "merges", "runs"])
    if "captions" in only:
        (out / "captions.json").write_text(json.dumps(captions(up), ensure_ascii=False, indent=1) + "\n",
                                           encoding="utf-8")
    if "schedules" in only or "merges" in only:
        arrays = {}
        arrays.update(schedules(up))
        arrays.update(merges(up))
        save_npz(out / "rules.npz", arrays)
    if "runs" in only:
        from sora4j_export.tiny import build_tiny_models

        tiny = build_tiny_models()
        meta, arrays = {}, {}
        for run in RUNS:
            m, a_ = sample_run(up, tiny, *run)
            meta.update(m)
            arrays.update(a_)
            z = a_[run[0] + "_z_final"]
            if not np.isfinite(z).all():
                raise RuntimeError(f"{run[0]}: upstream's final latent is not finite")
            print(run[0], "calls", len(a_[run[0] + "_timesteps"]), "|z|max", float(np.abs(z).max()), flush=True)
        (out / "runs.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
                                       encoding="utf-8")
        save_npz(out / "runs.npz", arrays)
    return 0


if __name__ == "__main__":
    sys.exit(main())
