"""Trains the demo models on the procedural world (CPU, Debian torch) and writes the ``demo`` pack.

::

    PYTHONPATH=src/main/python /usr/bin/python3 -m sora4j_export.demo.train --out /tmp/sora4j-demo [--threads 1]

Stages, run in order; each leaves its result in ``--out`` and is skipped once done:

1. ``spatial``   spatial autoencoder: the training-only :class:`~.models.SpatialEncoder` and the pack's spatial VAE
                 decoder, on single 64×64 frames of wide-layout clips (pixel L1 + L2, object pixels weighted ×11, noise σ 0.1 on the latent);
2. ``bank``      renders ``--bank`` 17-frame clips of the wide layout and stores their SD latents (frozen spatial
                 encoder);
3. ``temporal``  temporal autoencoder: :class:`~.models.TemporalEncoder` and the pack's temporal VAE decoder on those
                 latents (weighted MSE in SD-latent space + pixel loss through the frozen spatial decoder on two frames
                 per clip, noise σ 0.1 on the latent);
4. ``latents``   renders ``--clips`` 51-frame clips of the prompt world (world.py) and encodes each 17-frame chunk
                 to 5 latent frames (latent [4, 15, 8, 8]); their per-channel mean and std become the pack's VAE
                 ``shift`` and ``scale``, so the diffusion model works on z ~ N(0, 1) and ``z·scale + shift`` is the
                 decoder's input. Then the VAE round trip per colour × background × shape (``round_trip.json``);
5. ``diffusion`` T5 and STDiT3 trained together with the rectified-flow objective: x_t = (1 − t/1000)·x0 + (t/1000)·ε,
                 target v = x0 − ε (the sampler's z += v·dt/1000 moves noise → data). Timesteps: for half the samples
                 (``--uniform-t-share``) t = the sampler's timestep transform (51 frames, 64×64: ratio 0.48) of
                 τ ~ U(0, 1), i.e. the distribution of the sampler's own steps; for the other half t ~ U(0, 1000),
                 which gives the high-noise steps (where layout, colour and motion are decided, and which the
                 transform makes rare at this small size) 2–3× more weight. Each batch shares one caption form
                 (world.sample_caption_form: which attributes it names, word order, phrasing); a form without
                 background words takes dark clips only. The caption is replaced by the learned null caption
                 ``y_embedding`` with probability 0.1 (for CFG). From step ``--tdtm-from`` on, a share ``--tdtm-share``
                 of the batches runs the blocks in TDTM's merged form (:func:`~sora4j_export.reference.block_forward`:
                 the attentions see adjacent frame pairs averaged, 8 of the 15 latent frames) at the timesteps of the
                 sampler's first half (τ ∈ [0.45, 1]): the model otherwise never sees fewer than 15 frames and freezes
                 the motion under TDTM (docs/demo-pack.md). AdamW, warm-up then a constant learning
                 rate, decaying linearly to zero over the last ``--lr-cooldown`` steps (2,000 of 15,000 by default: the
                 embedded pack's recipe; before the decay starts, a run equals one with a later end), EMA of the
                 weights (exported);
6. ``decoder``   fine-tunes the VAE decoder (temporal + spatial parts; the encoders, the latent space and the
                 diffusion model stay as they are) to draw each training clip's truth from the latents the trained
                 diffusion model samples for it (``--decoder-pairs`` clips noised to a late sampler step and sampled
                 to t = 0 with their caption) and from the encoder's latents (``--decoder-steps``; 0 keeps the
                 autoencoder stages' decoder, as v2.1 did; :mod:`.decoder_stage`);
7. ``pack``      writes the EMA models as the ``demo`` pack (``--pack-out``, default the repository's embedded
                 ``src/main/resources/io/github/sora4j/packs/demo``) and verifies it.

Seeded (``--seed``): every batch, noise draw and timestep comes from a generator seeded with (seed, stage, step), so a
resumed run sees the same data as an uninterrupted one. Checkpoints are written every ``--ckpt-every`` steps (the
diffusion stage also every ``--ckpt-minutes``); rerun with ``--resume`` to continue (finished stages are skipped, an
interrupted one continues from its last checkpoint, a finished one whose output file is gone runs again).
``--stages pack --pack-from-checkpoint`` exports an unfinished run's EMA weights.
Wall time per stage accumulates in ``times.json``; ``log.txt`` has the losses.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from . import models as M
from . import world as W
from .runloop import STAGES, Run, load_checkpoint, timed_stage
from .decoder_stage import stage_decoder
from .dit_stage import stage_diffusion
from .vae_stages import load_vae, stage_bank, stage_latents, stage_spatial, stage_temporal

REPO_ROOT = Path(__file__).resolve().parents[5]
DEFAULT_PACK = REPO_ROOT / "src" / "main" / "resources" / "io" / "github" / "sora4j" / "packs" / "demo"
PACK_NAME = "demo"
#: the demo pack's classifier-free guidance scale (its manifest's sampling.guidanceScale): chosen by measurement
#: with the decoder stage (docs/demo-pack.md, "A decoder for the diffusion model's latents"); Open-Sora samples at 7.0
DEFAULT_GUIDANCE = 5.0
MALLOC_TUNABLES = "glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=4294967296"


# ------------------------------------------------------------------------------------------------------------ stages
@torch.no_grad()
def sample_video(t5, stdit, vae, tok, prompt: str, seed: int, steps: int = 30, guidance: float = 7.0, **kw):
    """Eager end-to-end sample (reference sampler): frames [1, 3, F, H, W] float32."""
    from .. import reference as ref
    from ..stdit3 import null_embedding
    from ..tiny import initial_noise

    T, Hl, Wl = vae.latent_size(W.FRAMES, W.HEIGHT, W.WIDTH)
    z0 = initial_noise(seed, (1, 4, T, Hl, Wl))
    y, mask, _ = ref.encode_prompt(t5, tok, prompt, 300)
    res = ref.Sampler(stdit).sample(z0, y, mask, null_embedding(stdit), height=W.HEIGHT, width=W.WIDTH,
                                    num_frames=W.FRAMES, steps=steps, guidance=guidance, fps=W.FPS, record=False,
                                    **kw)
    return ref.decode(vae, res.z, W.FRAMES)


MONITOR_SHORT = ("a red circle moving left", "blue square", "moving up, a green triangle", "a yellow shape moving down",
                 "a white triangle on a light background")


def _monitor(run: Run, t5, stdit, lat, tok) -> None:
    """Held-out full prompts (every 6th), the README prompt on seeds 0-3 and a few short prompts: named attributes
    right, and every frame clean."""
    from .detect import check_frames, detect, parse_prompt

    vae = load_vae(run, run.args.seed, lat["scale"], lat["shift"])
    items = [(p, 10_000 + k) for k, (_, p) in enumerate(W.held_out_clips(seed=1234)[::6])]
    items += [("a red circle moving left", s) for s in range(4)] + [(p, 20_000 + k) for k, p in enumerate(MONITOR_SHORT)]
    for label, kw in (("", {}), (" under TDTM 15/30", {"tdtm_steps": 15})):
        named_ok = clean = 0
        for prompt, seed in items:
            video = W.from_model(sample_video(t5, stdit, vae, tok, prompt, seed=seed, **kw)[0].numpy())
            want = parse_prompt(prompt)
            d = detect(video)
            chk = check_frames(video, want)
            named_ok += all(getattr(d, k) == v for k, v in want.items() if k != "shape") and \
                ("shape" not in want or chk.shape_vote() == want["shape"])
            clean += chk.all_clean
        run.log(f"monitor{label}: {len(items)} prompts (held-out, README seeds 0-3, short): every named attribute "
                f"right {named_ok}/{len(items)}, every frame clean {clean}/{len(items)}")


def build_trained(run_dir, seed: int = 0, from_checkpoint: bool = False, hidden: int = 128, depth: int = 4):
    """(t5, stdit, vae, vocab) of a finished training directory (EMA weights); ``from_checkpoint``: the EMA weights
    of the diffusion stage's last checkpoint (an unfinished run; ``hidden`` and ``depth`` as trained)."""
    from ..tokenizer import build_vocab

    run = Run(argparse.Namespace(out=run_dir))
    if from_checkpoint:
        ck = load_checkpoint(run.path("diffusion_ckpt.pt"))
        if ck is None:
            raise SystemExit(f"no diffusion checkpoint in {run_dir} (diffusion_ckpt.pt or diffusion_ckpt.compact.pt)")
        st = {"t5": ck["ema"]["t5"], "stdit": ck["ema"]["stdit"], "hidden": hidden, "depth": depth}
        print(f"pack from the diffusion checkpoint at step {ck['step']}", flush=True)
    else:
        st = torch.load(run.path("diffusion.pt"))
    lat = np.load(run.path("latents.npz"))
    vocab = build_vocab()
    t5 = M.build_t5(len(vocab), seed)
    t5.load_state_dict(st["t5"])
    stdit = M.build_stdit(seed + 1, hidden_size=int(st["hidden"]), depth=int(st["depth"]))
    stdit.load_state_dict(st["stdit"])  # y_embedding: a buffer again, same key
    vae = load_vae(run, seed, lat["scale"], lat["shift"])
    return t5.eval(), stdit.eval(), vae, vocab


def stage_pack(run: Run, tick) -> None:
    a = run.args
    write_demo_pack(run.out, a.pack_out, seed=a.seed, log=run.log, from_checkpoint=a.pack_from_checkpoint,
                    hidden=a.hidden, depth=a.depth, guidance=a.guidance)


def write_demo_pack(run_dir, pack_dir, seed: int = 0, log=print, from_checkpoint: bool = False, hidden: int = 128,
                    depth: int = 4, guidance: float = None) -> dict:
    """Writes the run's models as the demo pack; ``guidance``: its ``sampling.guidanceScale`` (default
    :data:`DEFAULT_GUIDANCE`)."""
    import tempfile

    from ..pack import verify_pack, write_pack
    from ..tokenizer import write_tokenizer_json

    t5, stdit, vae, vocab = build_trained(run_dir, seed, from_checkpoint, hidden, depth)
    times = json.loads((Path(run_dir) / "times.json").read_text()) if (Path(run_dir) / "times.json").exists() else {}
    desc = (f"Demo model trained by sora4j_export.demo.train on the procedural shapes world "
            f"(coloured circles, squares and triangles moving left/right/up/down over a dark or light background), "
            f"{W.FRAMES} frames at {W.WIDTH}x{W.HEIGHT}, seed {seed}. Prompts like 'a red circle moving left slowly on "
            f"a dark background', 'blue square' or 'moving up, a green triangle'.")
    with tempfile.TemporaryDirectory(prefix="sora4j-tok-") as tmp:
        tok = write_tokenizer_json(Path(tmp) / "tokenizer.json", vocab)
        manifest = write_pack(pack_dir, name=PACK_NAME, description=desc, t5_model=t5, t5_config=t5.config,
                              stdit_model=stdit, stdit_config=stdit.config, vae_model=vae, vae_config=vae.config,
                              tokenizer_json_path=tok, overwrite=True,
                              request={"frames": W.FRAMES, "width": W.WIDTH, "height": W.HEIGHT},
                              sampling={"guidanceScale": DEFAULT_GUIDANCE if guidance is None else float(guidance)},
                              vocabulary=W.declared_vocabulary())
    verify_pack(pack_dir)
    total = sum(b["bytes"] for b in manifest["blocks"]) + sum(f["bytes"] for f in manifest["files"])
    log(f"pack: wrote {pack_dir} ({len(manifest['blocks'])} blocks, {total:,} bytes); training time "
        f"{times.get('total', 0):.0f} s")
    return manifest


# -------------------------------------------------------------------------------------------------------------- main
def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python3 -m sora4j_export.demo.train", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="training directory (checkpoints, log.txt, times.json)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out (required when it is not empty)")
    p.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated subset of {','.join(STAGES)}")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch and OpenBLAS threads (default 1)")
    p.add_argument("--pack-out", default=str(DEFAULT_PACK), help="pack directory written by the pack stage")
    p.add_argument("--spatial-steps", type=int, default=4000)
    p.add_argument("--ae-batch", type=int, default=32, help="frames per spatial-autoencoder step")
    p.add_argument("--ae-lr", type=float, default=1e-3)
    p.add_argument("--bank", type=int, default=8000, help="training clips encoded for the temporal and diffusion stages")
    p.add_argument("--temporal-steps", type=int, default=2000)
    p.add_argument("--clips", type=int, default=12000, help="prompt-world clips encoded for the diffusion stage")
    p.add_argument("--latent-workers", type=int, default=2,
                   help="processes encoding the clips (one thread each; the latents are the same bytes for any number)")
    p.add_argument("--temporal-batch", type=int, default=16)
    p.add_argument("--dit-steps", type=int, default=19000,
                   help="diffusion steps (19,000: the embedded v2.1 pack; v2 stopped at 15,000)")
    p.add_argument("--batch", type=int, default=32, help="clips per diffusion step")
    p.add_argument("--procs", type=int, default=2,
                   help="data-parallel processes for the diffusion stage, each with --threads threads and an equal "
                        "share of every batch (the same batches and mathematics for any number)")
    p.add_argument("--micro-batch", type=int, default=0,
                   help="clips per forward/backward slice within a process's share (0: the whole share)")
    p.add_argument("--lr-cooldown", type=int, default=2000,
                   help="decay the diffusion learning rate linearly to zero over the last N steps before --dit-steps "
                        "(default 2000, as the embedded v2.1 pack; 0: constant to the end)")
    p.add_argument("--dit-lr", type=float, default=5e-4)
    p.add_argument("--hidden", type=int, default=128, help="STDiT hidden size")
    p.add_argument("--depth", type=int, default=4, help="STDiT depth (spatial+temporal block pairs)")
    p.add_argument("--ema", type=float, default=0.998)
    p.add_argument("--cfg-dropout", type=float, default=0.1)
    p.add_argument("--uniform-t-share", type=float, default=0.5,
                   help="share of diffusion samples with t uniform on [0, 1000]; the others use the sampler's "
                        "transform of tau ~ U(0, 1)")
    p.add_argument("--pack-from-checkpoint", action="store_true",
                   help="with --stages pack: export the EMA weights of the diffusion stage's last checkpoint (to "
                        "evaluate an unfinished run)")
    p.add_argument("--tdtm-share", type=float, default=0.3,
                   help="share of diffusion batches run with TDTM's merged attention (from --tdtm-from)")
    p.add_argument("--tdtm-from", type=int, default=6500,
                   help="first diffusion step with TDTM batches (v2's run added them at step 6,500)")
    p.add_argument("--light-share", type=float, default=0.3,
                   help="share of diffusion batches with light-background clips only and captions naming the "
                        "background (from --light-from; 0.3 from 13,000: the embedded v2.1 pack's recipe)")
    p.add_argument("--light-from", type=int, default=13000, help="first diffusion step with light batches")
    p.add_argument("--light-square-share", type=float, default=0.0,
                   help="share of the light batches with squares on light only, under captions naming the shape "
                        "(default 0: the embedded pack's recipe)")
    p.add_argument("--light-square-from", type=int, default=0,
                   help="first diffusion step whose light batches may be square batches (0: with the light batches)")
    p.add_argument("--grow-at", type=int, default=0,
                   help="grow the STDiT from --grow-from-depth to --depth at this diffusion step (demo.grow: "
                        "identity-initialised new block pairs; 0: never)")
    p.add_argument("--grow-from-depth", type=int, default=0, help="the STDiT depth before --grow-at")
    p.add_argument("--decoder-steps", type=int, default=6000,
                   help="decoder stage: fine-tuning steps of the VAE decoder on the diffusion model's samples "
                        "(demo.decoder_stage; 0: keep the autoencoder stages' decoder, as v2.1)")
    p.add_argument("--decoder-pairs", type=int, default=1600,
                   help="decoder stage: (sampled latent, truth clip) pairs drawn from the trained diffusion model")
    p.add_argument("--decoder-lr", type=float, default=5e-5, help="decoder stage: peak learning rate")
    p.add_argument("--guidance", type=float, default=DEFAULT_GUIDANCE,
                   help=f"the pack's classifier-free guidance scale, sampling.guidanceScale (default "
                        f"{DEFAULT_GUIDANCE}; v2.1 and Open-Sora: 7.0)")
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--ckpt-every", type=int, default=250)
    p.add_argument("--ckpt-minutes", type=float, default=15.0, help="also checkpoint the diffusion stage after this "
                   "many minutes since the last checkpoint")
    p.add_argument("--eval-every", type=int, default=1000, help="monitor samples every N diffusion steps (0: never)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    a = parse_args(argv)
    torch.set_num_threads(a.threads)
    out = Path(a.out)
    if out.exists() and any(out.iterdir()) and not a.resume:
        print(f"{out} is not empty: pass --resume to continue that run (or choose a new --out)", file=sys.stderr)
        return 2
    if a.resume and not (out.exists() and any(out.iterdir())):
        print(f"--resume: {out} holds no run to resume (is the path right, and the run's directory committed or "
              f"copied?); without --resume a new run starts there", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    stages = [s.strip() for s in a.stages.split(",") if s.strip()]
    for s in stages:
        if s not in STAGES:
            print(f"unknown stage {s!r} (use {', '.join(STAGES)})", file=sys.stderr)
            return 2
    run = Run(a)
    run.log(f"start: stages {stages}, seed {a.seed}, threads {a.threads}, args {vars(a)}")
    fns = {"spatial": stage_spatial, "bank": stage_bank, "temporal": stage_temporal, "latents": stage_latents,
           "diffusion": stage_diffusion, "decoder": stage_decoder, "pack": stage_pack}
    for s in STAGES:
        if s in stages:
            if s == "pack":  # always rewritten (cheap); not marked done
                t0 = time.time()
                stage_pack(run, None)
                run.add_time("pack", time.time() - t0)
            else:
                timed_stage(run, s, lambda tick, s=s: fns[s](run, tick))
    return 0


if __name__ == "__main__":
    from .entry import run as run_command

    # PYTHONHASHSEED: byte-identical TorchScript files (pack.py). GLIBC_TUNABLES: glibc's malloc hands tensors above
    # its mmap threshold back to the kernel on free, so every step pays page faults for fresh zeroed pages; keeping
    # freed memory in the heap makes encoding 5x and a batch-32 diffusion step 2x faster, with the same bytes out
    # (docs/demo-pack.md)
    run_command("sora4j_export.demo.train", main, {"PYTHONHASHSEED": "0", "GLIBC_TUNABLES": MALLOC_TUNABLES})
