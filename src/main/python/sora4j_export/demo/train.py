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
                 (``--uniform-t-share``) t = the sampler's timestep transform (17 frames, 64×64: ratio 0.28) of
                 τ ~ U(0, 1), i.e. the distribution of the sampler's own steps; for the other half t ~ U(0, 1000),
                 which gives the high-noise steps (where layout, colour and motion are decided, and which the
                 transform makes rare at this small size) 2–3× more weight. Each batch shares one caption form
                 (world.sample_caption_form: which attributes it names, word order, phrasing); a form without
                 background words takes dark clips only. The caption is replaced by the learned null caption
                 ``y_embedding`` with probability 0.1 (for CFG). AdamW, warm-up then a constant learning
                 rate (so stopping at step N equals a run with ``--dit-steps N``), EMA of the weights (exported);
6. ``pack``      writes the EMA models as the ``demo`` pack (``--pack-out``, default the repository's embedded
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
import copy
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import models as M
from . import world as W

STAGES = ("spatial", "bank", "temporal", "latents", "diffusion", "pack")
_STAGE_ID = {s: i + 1 for i, s in enumerate(STAGES)}
REPO_ROOT = Path(__file__).resolve().parents[5]
DEFAULT_PACK = REPO_ROOT / "src" / "main" / "resources" / "io" / "github" / "sora4j" / "packs" / "demo"
PACK_NAME = "demo"
NOISE_SIGMA = 0.1
FG_WEIGHT = 10.0


# --------------------------------------------------------------------------------------------------------- utilities
class Run:
    def __init__(self, args):
        self.args = args
        self.out = Path(args.out)
        self.log_file = self.out / "log.txt"
        self.times_file = self.out / "times.json"

    def log(self, msg: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, flush=True)
        with open(self.log_file, "a", encoding="utf-8") as f:
            f.write(line + "\n")

    def add_time(self, stage: str, seconds: float) -> None:
        times = json.loads(self.times_file.read_text()) if self.times_file.exists() else {}
        times[stage] = round(times.get(stage, 0.0) + seconds, 1)
        times["total"] = round(sum(v for k, v in times.items() if k != "total"), 1)
        self.times_file.write_text(json.dumps(times, indent=2) + "\n")

    def path(self, name: str) -> Path:
        return self.out / name


def step_rng(seed: int, stage: str, step: int):
    """(numpy Generator, torch Generator) for one step of one stage: the same on every (re)run."""
    rng = np.random.default_rng([seed, _STAGE_ID[stage], step])
    gen = torch.Generator().manual_seed(int(rng.integers(2 ** 62)))
    return rng, gen


def save_atomic(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".partial")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def cosine_lr(step: int, total: int, peak: float, warmup: int, floor: float = 0.1) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    p = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * p)))


def fg_weights(clips, size=64, dilate=2) -> np.ndarray:
    """1 + FG_WEIGHT · (dilated object coverage) per frame: [n, F, H, W]."""
    out = []
    for c in clips:
        m = torch.from_numpy(W.object_masks(c))[:, None]
        m = F.max_pool2d(m, 2 * dilate + 1, stride=1, padding=dilate)[:, 0]
        out.append(1.0 + FG_WEIGHT * m.numpy())
    return np.stack(out, 0)


def frame_weights(clip: W.Clip, f: int, dilate=2) -> np.ndarray:
    """:func:`fg_weights` of one frame: [H, W]."""
    m = torch.from_numpy(W.coverage(clip, f))[None, None]
    return 1.0 + FG_WEIGHT * F.max_pool2d(m, 2 * dilate + 1, stride=1, padding=dilate)[0, 0].numpy()


def clip_from_row(row) -> W.Clip:
    ci, si, di, spi, bi, x0, y0, r = row[:8]
    travel = float(row[8]) if len(row) > 8 else 0.0
    frames = int(row[9]) if len(row) > 9 else W.CHUNK_FRAMES
    return W.Clip(list(W.COLOURS)[int(ci)], W.SHAPES[int(si)], W.DIRECTIONS[int(di)], list(W.SPEEDS)[int(spi)],
                  list(W.BACKGROUNDS)[int(bi)], float(x0), float(y0), float(r), frames=frames, travel_px=travel)


def clip_row(c: W.Clip):
    return [list(W.COLOURS).index(c.colour), W.SHAPES.index(c.shape), W.DIRECTIONS.index(c.direction),
            list(W.SPEEDS).index(c.speed), list(W.BACKGROUNDS).index(c.background), c.x0, c.y0, c.radius,
            c.travel_px, c.frames]


class Loop:
    """A resumable optimisation loop: ``state`` (modules, optimiser, step) checkpointed to ``ckpt``."""

    def __init__(self, run: Run, stage: str, modules: dict, params, lr: float, total: int, warmup: int,
                 ema_modules=None, ema_decay: float = 0.0, betas=(0.9, 0.99), weight_decay: float = 0.0,
                 schedule: str = "cosine"):
        self.run, self.stage, self.modules, self.total, self.warmup, self.peak = run, stage, modules, total, warmup, lr
        self.schedule = schedule
        self.params = [p for p in params if p.requires_grad]
        self.opt = torch.optim.AdamW(self.params, lr=lr, betas=betas, weight_decay=weight_decay)
        self.ema_decay = ema_decay
        self.ema = {k: copy.deepcopy(modules[k]).eval() for k in (ema_modules or [])}
        for m in self.ema.values():
            for p in m.parameters():
                p.requires_grad_(False)
        self.step = 0
        self.ckpt = run.path(f"{stage}_ckpt.pt")
        if self.ckpt.exists():
            st = torch.load(self.ckpt)
            for k, m in modules.items():
                m.load_state_dict(st["modules"][k])
            for k, m in self.ema.items():
                m.load_state_dict(st["ema"][k])
            self.opt.load_state_dict(st["opt"])
            self.step = int(st["step"])
            run.log(f"{stage}: resumed at step {self.step}")

    def save(self) -> None:
        save_atomic({"modules": {k: m.state_dict() for k, m in self.modules.items()},
                     "ema": {k: m.state_dict() for k, m in self.ema.items()},
                     "opt": self.opt.state_dict(), "step": self.step}, self.ckpt)

    def update(self, loss: torch.Tensor, clip: float = 1.0) -> float:
        for g in self.opt.param_groups:
            if self.schedule == "constant":  # warmup, then constant: stopping at any step = a run of that length
                g["lr"] = self.peak * min(1.0, (self.step + 1) / self.warmup)
            else:
                g["lr"] = cosine_lr(self.step, self.total, self.peak, self.warmup)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = float(torch.nn.utils.clip_grad_norm_(self.params, clip))
        self.opt.step()
        if self.ema:
            d = min(self.ema_decay, (1 + self.step) / (10 + self.step))
            with torch.no_grad():
                for k, em in self.ema.items():
                    for pe, p in zip(em.parameters(), self.modules[k].parameters()):
                        pe.mul_(d).add_(p.detach(), alpha=1 - d)
        self.step += 1
        return gn


#: what each stage leaves for the later ones; a stage marked done whose output is gone runs again (bank.npz and
#: latents.npz are large and regenerable, so a committed checkpoint directory may leave them out)
STAGE_OUTPUTS = {"spatial": "spatial.pt", "bank": "bank.npz", "temporal": "temporal.pt", "latents": "latents.npz",
                 "diffusion": "diffusion.pt"}


def timed_stage(run: Run, stage: str, fn) -> None:
    done = run.path(f"{stage}.done")
    needed = not (stage == "bank" and run.path("temporal.done").exists())  # only the temporal stage reads the bank
    if done.exists() and (run.path(STAGE_OUTPUTS[stage]).exists() or not needed):
        run.log(f"{stage}: done already, skipped")
        return
    if done.exists():
        run.log(f"{stage}: done before but {STAGE_OUTPUTS[stage]} is missing: running it again (deterministic)")
        done.unlink()
    t0 = time.time()
    seg = [t0]

    def checkpoint_time():  # add the time since the last call (so an interrupted stage still counts its time)
        now = time.time()
        run.add_time(stage, now - seg[0])
        seg[0] = now

    fn(checkpoint_time)
    checkpoint_time()
    done.write_text("ok\n")
    run.log(f"{stage}: finished in {time.time() - t0:.0f} s this session")


# ------------------------------------------------------------------------------------------------------------ stages
def stage_spatial(run: Run, tick) -> None:
    a = run.args
    vae = M.build_vae(a.seed)
    enc = M.SpatialEncoder()
    dec = vae.spatial_vae.module
    loop = Loop(run, "spatial", {"enc": enc, "dec": dec}, list(enc.parameters()) + list(dec.parameters()),
                lr=a.ae_lr, total=a.spatial_steps, warmup=100)
    acc, t_last = [], time.time()
    while loop.step < a.spatial_steps:
        rng, gen = step_rng(a.seed, "spatial", loop.step)
        clips = [W.sample_clip(rng, wide=True, frames=W.CHUNK_FRAMES) for _ in range(a.ae_batch)]
        fidx = rng.integers(0, W.CHUNK_FRAMES, size=a.ae_batch)
        x = torch.from_numpy(np.stack([W.to_model(W.render_frame(c, int(f))[None])[:, 0]
                                       for c, f in zip(clips, fidx)], 0))
        wts = torch.from_numpy(np.stack([frame_weights(c, int(f)) for c, f in zip(clips, fidx)], 0))[:, None]
        raw = enc(x)
        rec = M.spatial_decode(vae, raw + NOISE_SIGMA * torch.randn(raw.shape, generator=gen))
        err = rec - x
        loss = (wts * (err.abs() + err ** 2)).mean() / wts.mean() + 1e-4 * (raw ** 2).mean()
        loop.update(loss)
        acc.append(float(loss))
        if loop.step % a.log_every == 0:
            run.log(f"spatial step {loop.step}/{a.spatial_steps} loss {np.mean(acc):.4f} "
                    f"|raw| {float(raw.std()):.2f} {(time.time() - t_last) / len(acc):.2f} s/step")
            acc, t_last = [], time.time()
        if loop.step % a.ckpt_every == 0 or loop.step == a.spatial_steps:
            loop.save()
            tick()
    save_atomic({"enc": enc.state_dict(), "dec": dec.state_dict()}, run.path("spatial.pt"))


def _load_spatial(run: Run, seed: int):
    vae = M.build_vae(seed)
    enc = M.SpatialEncoder()
    st = torch.load(run.path("spatial.pt"))
    enc.load_state_dict(st["enc"])
    vae.spatial_vae.module.load_state_dict(st["dec"])
    return enc.eval(), vae


def stage_bank(run: Run, tick) -> None:
    a = run.args
    enc, _ = _load_spatial(run, a.seed)
    rng = np.random.default_rng([a.seed, _STAGE_ID["bank"]])
    rows, sds = [], []
    with torch.no_grad():
        for i in range(a.bank):
            c = W.sample_clip(rng, wide=True, frames=W.CHUNK_FRAMES)
            x = torch.from_numpy(W.to_model(W.render(c))).permute(1, 0, 2, 3)  # [F, 3, H, W]
            sd = enc(x) * M.SCALING_FACTOR  # [F, 4, 8, 8]
            sds.append(sd.permute(1, 0, 2, 3).numpy().astype(np.float16))
            rows.append(clip_row(c))
            if (i + 1) % 1000 == 0:
                run.log(f"bank {i + 1}/{a.bank}")
    np.savez(run.path("bank.npz"), sd=np.stack(sds, 0), clips=np.asarray(rows, dtype=np.float64))


def stage_temporal(run: Run, tick) -> None:
    a = run.args
    _, vae = _load_spatial(run, a.seed)
    sdec = vae.spatial_vae.module.eval()
    for p in sdec.parameters():
        p.requires_grad_(False)
    bank = np.load(run.path("bank.npz"))
    sd_all, rows = bank["sd"], bank["clips"]
    tenc = M.TemporalEncoder()
    tdec = vae.temporal_vae
    loop = Loop(run, "temporal", {"enc": tenc, "dec": tdec}, list(tenc.parameters()) + list(tdec.parameters()),
                lr=a.ae_lr, total=a.temporal_steps, warmup=100)
    acc, t_last = [], time.time()
    while loop.step < a.temporal_steps:
        rng, gen = step_rng(a.seed, "temporal", loop.step)
        idx = rng.integers(0, len(sd_all), size=a.temporal_batch)
        sd = torch.from_numpy(sd_all[idx].astype(np.float32))
        clips = [clip_from_row(rows[i]) for i in idx]
        wpix = torch.from_numpy(fg_weights(clips))  # [B, F, H, W]
        wlat = F.avg_pool2d(wpix, 8)[:, None]  # [B, 1, F, 8, 8]
        z = tenc(sd)
        rec = M.temporal_decode(vae, z + NOISE_SIGMA * torch.randn(z.shape, generator=gen), W.CHUNK_FRAMES)
        loss_lat = (wlat * (rec - sd) ** 2).mean() / wlat.mean() / M.SCALING_FACTOR ** 2
        # pixel loss on two frames per clip through the frozen spatial decoder
        fsel = torch.from_numpy(rng.integers(0, W.CHUNK_FRAMES, size=(len(idx), 2)))
        b_ix = torch.arange(len(idx))[:, None].expand(-1, 2).reshape(-1)
        f_ix = fsel.reshape(-1)
        raw = rec.permute(0, 2, 1, 3, 4)[b_ix, f_ix] / M.SCALING_FACTOR
        pix = M.spatial_decode(vae, raw)
        target = torch.from_numpy(np.stack([W.to_model(W.render_frame(clips[int(b)], int(f))[None])[:, 0]
                                            for b, f in zip(b_ix, f_ix)], 0))
        wp = wpix[b_ix, f_ix][:, None]
        err = pix - target
        loss_pix = (wp * (err.abs() + err ** 2)).mean() / wp.mean()
        loss = loss_lat + loss_pix + 1e-4 * (z ** 2).mean()
        loop.update(loss)
        acc.append((float(loss_lat), float(loss_pix)))
        if loop.step % a.log_every == 0:
            m = np.mean(acc, 0)
            run.log(f"temporal step {loop.step}/{a.temporal_steps} latent {m[0]:.4f} pixel {m[1]:.4f} "
                    f"|z| {float(z.std()):.2f} {(time.time() - t_last) / len(acc):.2f} s/step")
            acc, t_last = [], time.time()
        if loop.step % a.ckpt_every == 0 or loop.step == a.temporal_steps:
            loop.save()
            tick()
    save_atomic({"enc": tenc.state_dict(), "dec": tdec.state_dict()}, run.path("temporal.pt"))


def load_vae(run: Run, seed: int, scale=None, shift=None):
    """The trained VAE decoder (spatial + temporal), with the pack's scale/shift if given."""
    kw = {} if scale is None else {"scale": tuple(float(s) for s in scale), "shift": tuple(float(s) for s in shift)}
    vae = M.build_vae(seed, **kw)
    vae.spatial_vae.module.load_state_dict(torch.load(run.path("spatial.pt"))["dec"])
    vae.temporal_vae.load_state_dict(torch.load(run.path("temporal.pt"))["dec"])
    return vae.eval()


def encode_video(enc, tenc, frames: np.ndarray) -> torch.Tensor:
    """uint8 frames [F, H, W, 3] (F a multiple of 17) → z_raw [4, F/17·5, 8, 8]: each 17-frame chunk encoded on its
    own, as Open-Sora's VAE does (micro_frame_size 17), so that the pack's chunked decoder inverts it."""
    x = torch.from_numpy(W.to_model(frames)).permute(1, 0, 2, 3)  # [F, 3, H, W]
    sd = (enc(x) * M.SCALING_FACTOR).permute(1, 0, 2, 3)[None]  # [1, 4, F, 8, 8]
    n = W.CHUNK_FRAMES
    if sd.shape[2] % n:
        raise ValueError(f"{sd.shape[2]} frames: the prompt world's clips are whole {n}-frame chunks")
    return torch.cat([tenc(sd[:, :, i:i + n]) for i in range(0, sd.shape[2], n)], dim=2)[0]


def round_trip_report(run: Run, enc, tenc, vae, scale, shift, log=None) -> dict:
    """The VAE round trip (encoders → pack decoder) on one prompt-world clip per (colour, background, shape): PSNR
    over the video and over the object (ground-truth coverage dilated by 2 px), and the detector's every-frame
    check. Written to ``round_trip.json`` and the log."""
    from .detect import check_frames, dilate
    from .quality import psnr

    rng = np.random.default_rng([run.args.seed, 99])
    rows = []
    with torch.no_grad():
        for colour in W.COLOURS:
            for bg in W.BACKGROUNDS:
                for shape in W.SHAPES:
                    c = W.sample_clip(rng, [(colour, shape, W.DIRECTIONS[len(rows) % 4])], background=bg)
                    truth = W.render(c)
                    z = encode_video(enc, tenc, truth)
                    zn = (z - torch.tensor(shift, dtype=torch.float32)[:, None, None, None]) / \
                        torch.tensor(scale, dtype=torch.float32)[:, None, None, None]
                    video = W.from_model(vae.decode(zn[None].float(), c.frames)[0].numpy())
                    mask = dilate(W.object_masks(c) > 0, 2)
                    err = (video.astype(np.float64) - truth.astype(np.float64)) ** 2
                    chk = check_frames(video, {"colour": colour, "shape": shape})
                    rows.append({"colour": colour, "background": bg, "shape": shape,
                                 "psnr": round(psnr(video, truth), 2),
                                 "psnr_object": round(float(10 * np.log10(255.0 ** 2 / max(err[mask].mean(), 1e-9))), 2),
                                 "clean_frames": chk.clean, "frames": chk.frames})
    run.path("round_trip.json").write_text(json.dumps(rows, indent=1) + "\n")
    worst = sorted(rows, key=lambda r: r["psnr_object"])[:5]
    clean = sum(r["clean_frames"] == r["frames"] for r in rows)
    run.log(f"latents: VAE round trip on {len(rows)} clips (every colour x background x shape): mean PSNR "
            f"{np.mean([r['psnr'] for r in rows]):.2f} dB, object {np.mean([r['psnr_object'] for r in rows]):.2f} dB, "
            f"every frame clean in {clean}/{len(rows)}; worst object PSNR: "
            + ", ".join(f"{r['colour']} {r['shape']} on {r['background']} {r['psnr_object']:.1f}" for r in worst))
    return {"rows": rows}


def stage_latents(run: Run, tick) -> None:
    a = run.args
    enc, _ = _load_spatial(run, a.seed)
    tenc = M.TemporalEncoder()
    tenc.load_state_dict(torch.load(run.path("temporal.pt"))["enc"])
    tenc.eval()
    rng = np.random.default_rng([a.seed, _STAGE_ID["latents"]])
    rows, zs = [], []
    with torch.no_grad():
        for i in range(a.clips):
            c = W.sample_clip(rng)  # the prompt world
            zs.append(encode_video(enc, tenc, W.render(c)).numpy())
            rows.append(clip_row(c))
            if (i + 1) % 1000 == 0:
                run.log(f"latents {i + 1}/{a.clips}")
    z = np.stack(zs, 0)  # [N, 4, 15, 8, 8]
    clips = np.asarray(rows, dtype=np.float64)
    shift = z.mean(axis=(0, 2, 3, 4))
    scale = z.std(axis=(0, 2, 3, 4))
    zn = (z - shift[None, :, None, None, None]) / scale[None, :, None, None, None]
    np.savez(run.path("latents.npz"), z=zn.astype(np.float32), clips=clips, scale=scale, shift=shift)
    run.log(f"latents: {list(z.shape)} shift {np.round(shift, 4).tolist()} scale {np.round(scale, 4).tolist()}")
    vae = load_vae(run, a.seed, scale, shift)
    round_trip_report(run, enc, tenc, vae, scale, shift)


def stage_diffusion(run: Run, tick) -> None:
    a = run.args
    from .. import reference as ref
    from ..tokenizer import WordLevelTokenizer, build_vocab

    lat = np.load(run.path("latents.npz"))
    z_all, rows = torch.from_numpy(lat["z"]), lat["clips"]
    vocab = build_vocab()
    tok = WordLevelTokenizer(vocab)
    t5 = M.build_t5(len(vocab), a.seed)
    stdit = M.build_stdit(a.seed + 1, hidden_size=a.hidden, depth=a.depth)
    M.learnable_null(stdit)
    embed, blocks, final = ref.stdit_pieces(stdit)
    params = list(t5.parameters()) + [p for p in stdit.parameters() if p.requires_grad]
    loop = Loop(run, "diffusion", {"t5": t5, "stdit": stdit}, params, lr=a.dit_lr, total=a.dit_steps, warmup=200,
                ema_modules=["t5", "stdit"], ema_decay=a.ema, schedule="constant")
    f32 = torch.float32
    fps, hh, ww = (torch.tensor([v], dtype=f32) for v in (float(W.FPS), float(W.HEIGHT), float(W.WIDTH)))
    T, Hl, Wl = z_all.shape[2:]
    nf = torch.tensor(T, dtype=torch.int64)
    lsize = torch.tensor([T, Hl, Wl], dtype=torch.int64)
    dark = np.nonzero(rows[:, 4] == list(W.BACKGROUNDS).index("dark"))[0]
    acc, t_last, t_ckpt, c_last = [], time.time(), time.time(), time.process_time()
    while loop.step < a.dit_steps:
        rng, gen = step_rng(a.seed, "diffusion", loop.step)
        # one caption form per batch (equal caption lengths); a form without background words takes dark clips only
        form = W.sample_caption_form(rng)
        pool = None if form.names("background") else dark
        idx = rng.integers(0, len(z_all), size=a.batch) if pool is None else pool[rng.integers(0, len(pool),
                                                                                                size=a.batch)]
        x0 = z_all[idx]
        texts = [ref.prepare_prompt(W.caption(clip_from_row(rows[i]), form)) for i in idx]
        enc = [tok.encode(t, 300) for t in texts]
        L = sum(enc[0][1])
        ids = torch.tensor([e[0][:L] for e in enc], dtype=torch.int64)
        y = t5(ids, torch.ones_like(ids))
        drop = torch.from_numpy(rng.random(a.batch) < a.cfg_dropout)
        null = stdit.y_embedder.y_embedding[:L][None].expand(a.batch, -1, -1)
        y = torch.where(drop[:, None, None], null, y)
        tau = torch.rand(a.batch, generator=gen, dtype=torch.float64)
        flat = torch.rand(a.batch, generator=gen) < a.uniform_t_share
        t = torch.where(flat, 1000.0 * tau, M.transform_timesteps(tau, W.FRAMES, W.HEIGHT, W.WIDTH)).to(f32)
        eps = torch.randn(x0.shape, generator=gen)
        s = (t / 1000.0)[:, None, None, None, None]
        xt = (1 - s) * x0 + s * eps
        x, y_tok, t_mlp, t_emb = embed(xt, t, y, fps, hh, ww)
        for blk in blocks:
            x = blk(x, y_tok, t_mlp, nf)
        out = final(x, t_emb, lsize)
        loss = ((out[:, :4] - (x0 - eps)) ** 2).mean()
        gn = loop.update(loss)
        acc.append(float(loss))
        if loop.step % a.log_every == 0:
            run.log(f"diffusion step {loop.step}/{a.dit_steps} loss {np.mean(acc):.4f} grad {gn:.2f} "
                    f"lr {loop.opt.param_groups[0]['lr']:.2e} {(time.time() - t_last) / len(acc):.2f} s/step "
                    f"(CPU {(time.process_time() - c_last) / len(acc):.2f} s/step)")
            acc, t_last, c_last = [], time.time(), time.process_time()
        if (loop.step % a.ckpt_every == 0 or loop.step == a.dit_steps
                or time.time() - t_ckpt >= 60.0 * a.ckpt_minutes):
            loop.save()
            tick()
            t_ckpt = time.time()
        if a.eval_every and (loop.step % a.eval_every == 0 or loop.step == a.dit_steps):
            _monitor(run, loop.ema["t5"], loop.ema["stdit"], lat, tok)
            tick()
    save_atomic({"t5": loop.ema["t5"].state_dict(), "stdit": loop.ema["stdit"].state_dict(),
                 "hidden": a.hidden, "depth": a.depth}, run.path("diffusion.pt"))


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
    named_ok = clean = 0
    for prompt, seed in items:
        video = W.from_model(sample_video(t5, stdit, vae, tok, prompt, seed=seed)[0].numpy())
        want = parse_prompt(prompt)
        d = detect(video)
        chk = check_frames(video, want)
        named_ok += all(getattr(d, k) == v for k, v in want.items() if k != "shape") and \
            ("shape" not in want or chk.shape_vote() == want["shape"])
        clean += chk.all_clean
    run.log(f"monitor: {len(items)} prompts (held-out, README seeds 0-3, short): every named attribute right "
            f"{named_ok}/{len(items)}, every frame clean {clean}/{len(items)}")


def build_trained(run_dir, seed: int = 0, from_checkpoint: bool = False, hidden: int = 128, depth: int = 4):
    """(t5, stdit, vae, vocab) of a finished training directory (EMA weights); ``from_checkpoint``: the EMA weights
    of the diffusion stage's last checkpoint (an unfinished run; ``hidden`` and ``depth`` as trained)."""
    from ..tokenizer import build_vocab

    run = Run(argparse.Namespace(out=run_dir))
    if from_checkpoint:
        ck = torch.load(run.path("diffusion_ckpt.pt"))
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
                    hidden=a.hidden, depth=a.depth)


def write_demo_pack(run_dir, pack_dir, seed: int = 0, log=print, from_checkpoint: bool = False, hidden: int = 128,
                    depth: int = 4) -> dict:
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
    p.add_argument("--temporal-batch", type=int, default=16)
    p.add_argument("--dit-steps", type=int, default=30000)
    p.add_argument("--batch", type=int, default=32, help="clips per diffusion step")
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
    out.mkdir(parents=True, exist_ok=True)
    stages = [s.strip() for s in a.stages.split(",") if s.strip()]
    for s in stages:
        if s not in STAGES:
            print(f"unknown stage {s!r} (use {', '.join(STAGES)})", file=sys.stderr)
            return 2
    run = Run(a)
    run.log(f"start: stages {stages}, seed {a.seed}, threads {a.threads}, args {vars(a)}")
    fns = {"spatial": stage_spatial, "bank": stage_bank, "temporal": stage_temporal, "latents": stage_latents,
           "diffusion": stage_diffusion, "pack": stage_pack}
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
    if "PYTHONHASHSEED" not in os.environ or "OPENBLAS_NUM_THREADS" not in os.environ:
        threads = "1"
        for i, arg in enumerate(sys.argv):
            if arg == "--threads" and i + 1 < len(sys.argv):
                threads = sys.argv[i + 1]
            elif arg.startswith("--threads="):
                threads = arg.split("=", 1)[1]
        env = dict(os.environ)
        env.setdefault("PYTHONHASHSEED", "0")  # byte-identical TorchScript files (pack.py)
        env.setdefault("OPENBLAS_NUM_THREADS", threads)
        env.setdefault("OMP_NUM_THREADS", threads)
        os.execve(sys.executable, [sys.executable, "-m", "sora4j_export.demo.train"] + sys.argv[1:], env)
    sys.exit(main())
