"""Random checkpoints with the released names, shapes, dtypes and file layout of Open-Sora v1.2's three models, for
benchmarks/real-size.sh (not for CI: about 25 GB on disk).

    PYTHONPATH=src/main/python python3 benchmarks/real_size_checkpoints.py --out DIR [--seed 0] [--reference-tokenizer F]

writes

    DIR/t5-v1_1-xxl/config.json                          T5 v1.1 XXL encoder config (DeepFloyd/t5-v1_1-xxl)
    DIR/t5-v1_1-xxl/model.safetensors.index.json         sharded like the repo's safetensors (refs/pr/3):
    DIR/t5-v1_1-xxl/model-0000{1,2}-of-00002.safetensors shards of at most 10 GB, F32, 219 tensors (shared.weight once)
    DIR/t5-v1_1-xxl/spiece.model                         only with --reference-tokenizer (see below)
    DIR/OpenSora-STDiT-v3/model.safetensors              973 F32 tensors (hpcai-tech/OpenSora-STDiT-v3)
    DIR/OpenSora-VAE-v1.2/model.safetensors              decoder tensors (F32) and the scale/shift buffers

Names and shapes come from the exporter's own modules (the key mapping that was checked against the released files:
T5 220/220 keys, STDiT3 973/973, VAE decoder 134/134), built on the meta device, in state-dict order. Deviation from
the release, on purpose: the VAE file holds no encoder tensors (the export ignores them and, reading lazily, never
touches them; they would only cost 0.7 GB of disk). Values are seeded normal numbers scaled by 1/sqrt(fan-in) (norm
weights 1, biases 0, the VAE's scale/shift the v1.2 values), written in chunks of 16 M elements, so memory stays small.

``--reference-tokenizer`` (a T5 ``tokenizer.json``): writes a SentencePiece ``spiece.model`` holding its Unigram
pieces, scores and normaliser, so the rehearsal also converts the tokenizer from spiece.model.
"""

import argparse
import json
import struct
import sys
import time
from pathlib import Path

import numpy as np

CHUNK = 1 << 24
SHARD_BYTES = 10 * 10 ** 9


def _layouts():
    import torch

    from sora4j_export.stdit3 import STDiT3, STDiT3Config
    from sora4j_export.streaming import to_meta
    from sora4j_export.t5 import T5Config, T5Encoder
    from sora4j_export.vae import VAEConfig, VideoVAEDecoder

    t5 = T5Encoder(T5Config.xxl(), device="meta").state_dict()
    t5 = {k: tuple(v.shape) for k, v in t5.items() if k != "encoder.embed_tokens.weight"}  # tied: stored once
    stdit = {k: tuple(v.shape) for k, v in STDiT3(STDiT3Config.xl2(), device="meta").state_dict().items()}
    saved = torch.nn.Conv3d.reset_parameters, torch.nn.Conv2d.reset_parameters, torch.nn.Linear.reset_parameters
    try:
        torch.nn.Conv3d.reset_parameters = torch.nn.Conv2d.reset_parameters = lambda self: None
        torch.nn.Linear.reset_parameters = lambda self: None
        vae_model = to_meta(VideoVAEDecoder(VAEConfig.v1_2()))
    finally:
        torch.nn.Conv3d.reset_parameters, torch.nn.Conv2d.reset_parameters, torch.nn.Linear.reset_parameters = saved
    vae = {k: tuple(v.shape) for k, v in vae_model.state_dict().items()}
    vae["scale"] = (1, 4, 1, 1, 1)
    vae["shift"] = (1, 4, 1, 1, 1)
    return t5, stdit, vae


def _fill(name, shape, rng, out):
    """Writes the tensor's float32 values to ``out`` in chunks."""
    n = int(np.prod(shape, dtype=np.int64))
    last = name.rsplit(".", 1)[-1]
    if name in ("scale", "shift"):
        v = (3.85, 2.32, 2.33, 3.06) if name == "scale" else (-0.10, 0.34, 0.27, 0.98)
        out.write(np.asarray(v, dtype="<f4").tobytes())
        return
    if last == "bias":
        const = 0.0
    elif len(shape) == 1 or name.endswith("norm.weight") or ".norm" in name:
        const = 1.0
    else:
        const = None
    if const is not None:
        out.write(np.full(n, const, dtype="<f4").tobytes())
        return
    fan_in = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else 1
    std = np.float32(1.0 / np.sqrt(max(fan_in, 1)))
    if name.endswith("scale_shift_table") or name.endswith("y_embedding") or "relative_attention_bias" in name:
        std = np.float32(1.0 / np.sqrt(shape[-1]))
    done = 0
    while done < n:
        k = min(CHUNK, n - done)
        a = rng.standard_normal(k, dtype=np.float32)
        a *= std
        out.write(a.astype("<f4", copy=False).tobytes())
        done += k


def write_safetensors(path: Path, tensors, rng, metadata=None) -> int:
    """``tensors``: list of (name, shape), all F32, written in this order. Returns the file size."""
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    for name, shape in tensors:
        nbytes = int(np.prod(shape, dtype=np.int64)) * 4
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * (-len(hb) % 8)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb", buffering=1 << 22) as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for name, shape in tensors:
            _fill(name, shape, rng, f)
    tmp.replace(path)
    return path.stat().st_size


def write_spiece(reference: Path, target: Path) -> None:
    from sora4j_export.spm import encode_model, model_from_tokenizer_json

    target.write_bytes(encode_model(model_from_tokenizer_json(json.loads(reference.read_text(encoding="utf-8")))))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reference-tokenizer", default=None)
    a = ap.parse_args(argv)
    root = Path(a.out)
    rng = np.random.default_rng(a.seed)
    t5, stdit, vae = _layouts()
    start = time.monotonic()
    sizes = {}

    d = root / "OpenSora-VAE-v1.2"
    d.mkdir(parents=True, exist_ok=True)
    sizes["vae"] = write_safetensors(d / "model.safetensors", list(vae.items()), rng, {"format": "pt"})
    d = root / "OpenSora-STDiT-v3"
    d.mkdir(parents=True, exist_ok=True)
    sizes["stdit"] = write_safetensors(d / "model.safetensors", list(stdit.items()), rng, {"format": "pt"})

    d = root / "t5-v1_1-xxl"
    d.mkdir(parents=True, exist_ok=True)
    shards, cur, cur_bytes = [], [], 0
    for name, shape in t5.items():
        nbytes = int(np.prod(shape, dtype=np.int64)) * 4
        if cur and cur_bytes + nbytes > SHARD_BYTES:
            shards.append(cur)
            cur, cur_bytes = [], 0
        cur.append((name, shape))
        cur_bytes += nbytes
    shards.append(cur)
    weight_map, total = {}, 0
    for i, shard in enumerate(shards):
        fname = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        total += write_safetensors(d / fname, shard, rng, {"format": "pt"})
        weight_map.update({name: fname for name, _ in shard})
    sizes["t5"] = total
    index = {"metadata": {"total_size": sum(int(np.prod(s, dtype=np.int64)) * 4 for s in t5.values())},
             "weight_map": weight_map}
    (d / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    (d / "config.json").write_text(json.dumps({
        "architectures": ["T5EncoderModel"], "model_type": "t5", "d_ff": 10240, "d_kv": 64, "d_model": 4096,
        "dense_act_fn": "gelu_new", "feed_forward_proj": "gated-gelu", "is_gated_act": True,
        "layer_norm_epsilon": 1e-06, "num_heads": 64, "num_layers": 24, "relative_attention_max_distance": 128,
        "relative_attention_num_buckets": 32, "vocab_size": 32128, "pad_token_id": 0, "eos_token_id": 1,
        "torch_dtype": "float32"}, indent=2))
    if a.reference_tokenizer:
        write_spiece(Path(a.reference_tokenizer), d / "spiece.model")
    print(json.dumps({"checkpoint_bytes": sizes, "checkpoint_seconds": round(time.monotonic() - start, 1),
                      "t5_shards": len(shards), "t5_tensors": len(t5), "stdit_tensors": len(stdit),
                      "vae_tensors": len(vae)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
