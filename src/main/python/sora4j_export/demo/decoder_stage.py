"""The demo trainer's decoder stage: the VAE decoder fine-tuned on the latents the diffusion model draws.

The autoencoder stages train the decoder on the encoder's latents. The diffusion model's samples are near those
but not on them: on a light background its squares come out between a square and a circle in the latent, and the
decoder, which never saw such latents, draws them with rounded corners (docs/demo-pack.md, "A decoder for the
diffusion model's latents"). This stage keeps the encoders, the latent space and the diffusion model as they are and
fine-tunes only the decoder (temporal and spatial parts), to draw each training clip's truth from:

1. **pairs** (``decoder_pairs.npz``, ``--decoder-pairs``): a training clip's latent noised to the timestep of a
   sampler step ``i0`` (drawn from ``PAIR_FIRST_STEP``), then sampled to t = 0 by the trained model (EMA weights) with
   the clip's full caption, guidance 7.0 (``PAIR_GUIDANCE``) and the sampler's own steps. The start keeps the clip's
   layout (where the object is, how it moves; about a pixel off at ``i0`` ≥ 9), and the model draws the details as it
   does when it generates, so the pair's truth is what the decoder should draw from that latent;
2. the encoder's latents of the training clips, as the autoencoder stages trained on (so it still decodes those).

A step decodes ``DECODER_BATCH`` 5-latent-frame chunks (17 frames each), ``PAIR_SHARE`` of them from pairs, and
takes the pixel loss of the spatial autoencoder stage (L1 + L2, object pixels weighted ×11) on ``FRAMES_PER_CHUNK``
frames of each, with the same σ 0.1 latent noise. Clips (of the pairs and of the encoder's latents) are drawn
30 % from squares on light (the case the stage exists for), 30 % from any light clip, 40 % from any clip. AdamW at ``--decoder-lr``, warm-up 100 steps, cosine to a tenth, gradients
clipped at 0.5. Seeded by (seed, stage, step) as every stage; pairs and steps resume from their checkpoints.
The result, ``decoder.pt``, replaces the autoencoder stages' decoder in the pack (:func:`.vae_stages.load_vae`).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from . import models as M
from . import world as W
from .runloop import Loop, Run, save_atomic, step_rng

DECODER_FILE = "decoder.pt"
PAIRS_FILE = "decoder_pairs.npz"
SAMPLER_STEPS = 30
#: sampler steps (of SAMPLER_STEPS) a pair starts at: late enough that the sample keeps the clip's layout
PAIR_FIRST_STEP = (9, 18)
PAIR_SHARE = 0.6
DECODER_BATCH = 4
FRAMES_PER_CHUNK = 4
PAIRS_PER_SAVE = 50
#: latent frames per temporal-decoder chunk (17 frames)
T_CHUNK = 5
#: the pairs' guidance scale: Open-Sora's 7.0, above the demo pack's 5.0 (train --guidance), so the decoder learns
#: from the stronger artefacts of the larger scale (measured: docs/demo-pack.md)
PAIR_GUIDANCE = 7.0
#: the pairs' generator streams start here (the fine-tuning steps use 0, 1, ...)
PAIR_STREAM = 1_000_000


def _pick(rng: np.random.Generator, rows: np.ndarray, n: int) -> np.ndarray:
    """``n`` clip indices: 30 % squares on light, 30 % any light clip, 40 % any clip."""
    light = np.nonzero(rows[:, 4] == list(W.BACKGROUNDS).index("light"))[0]
    squares = light[rows[light, 1] == W.SHAPES.index("square")]
    u = rng.random(n)
    return np.where(u < 0.3, rng.choice(squares, n), np.where(u < 0.6, rng.choice(light, n),
                                                                  rng.integers(0, len(rows), n)))


@torch.no_grad()
def draw_pairs(run: Run, t5, stdit, lat, tok, n: int, tick=None) -> None:
    """Appends pairs to ``decoder_pairs.npz`` until it holds ``n`` (pair j drawn from (seed, "decoder", PAIR_STREAM +
    j), so a resumed stage draws the pairs an uninterrupted one would)."""
    from .. import reference as ref
    from ..stdit3 import null_embedding

    path = run.path(PAIRS_FILE)
    have = dict(np.load(path)) if path.exists() else {"z": np.zeros((0,) + lat["z"].shape[1:], np.float16),
                                                      "clips": np.zeros((0, lat["clips"].shape[1])),
                                                      "i0": np.zeros(0, np.int64)}
    z_all, rows = lat["z"], lat["clips"]
    sampler, null = ref.Sampler(stdit), null_embedding(stdit)
    ts = ref.timesteps(SAMPLER_STEPS, W.FRAMES, W.HEIGHT, W.WIDTH)
    zs, cl, i0s = list(have["z"]), list(have["clips"]), list(have["i0"])
    t0 = time.time()
    from .vae_stages import clip_from_row

    while len(zs) < n:
        j = len(zs)
        rng, gen = step_rng(run.args.seed, "decoder", PAIR_STREAM + j)
        i = int(_pick(rng, rows, 1)[0])
        y, mask, _ = ref.encode_prompt(t5, tok, W.caption(clip_from_row(rows[i])), 300)
        i0 = int(rng.integers(PAIR_FIRST_STEP[0], PAIR_FIRST_STEP[1]))
        s = ts[i0] / 1000.0
        x0 = torch.from_numpy(z_all[i])[None].float()
        z = sampler.sample((1 - s) * x0 + s * torch.randn(x0.shape, generator=gen), y, mask, null, height=W.HEIGHT,
                           width=W.WIDTH, num_frames=W.FRAMES, steps=SAMPLER_STEPS, guidance=PAIR_GUIDANCE,
                           fps=W.FPS, record=False, first_step=i0).z
        zs.append(z[0].numpy().astype(np.float16))
        cl.append(rows[i])
        i0s.append(i0)
        if len(zs) % PAIRS_PER_SAVE == 0 or len(zs) == n:
            tmp = path.with_name(path.name + ".partial.npz")
            np.savez(tmp, z=np.stack(zs), clips=np.stack(cl), i0=np.asarray(i0s, dtype=np.int64))
            tmp.replace(path)
            run.log(f"decoder: pairs {len(zs)}/{n} ({(time.time() - t0) / max(1, len(zs) - len(have['z'])):.2f} "
                    f"s/pair)")
            if tick:
                tick()


def stage_decoder(run: Run, tick) -> None:
    a = run.args
    if a.decoder_steps <= 0:
        run.log("decoder: --decoder-steps 0, the autoencoder stages' decoder stays")
        return
    from ..tokenizer import WordLevelTokenizer
    from .train import build_trained
    from .vae_stages import NOISE_SIGMA, clip_from_row, frame_weights, load_vae, pixel_loss

    lat = np.load(run.path("latents.npz"))
    t5, stdit, _, vocab = build_trained(run.out, a.seed, hidden=a.hidden, depth=a.depth)
    draw_pairs(run, t5, stdit, lat, WordLevelTokenizer(vocab), a.decoder_pairs, tick)
    del t5, stdit
    pairs = np.load(run.path(PAIRS_FILE))
    pz, prows = pairs["z"], pairs["clips"]
    z_all, rows = lat["z"], lat["clips"]
    vae = load_vae(run, a.seed, lat["scale"], lat["shift"], tuned=False)
    sdec, tdec = vae.spatial_vae.module, vae.temporal_vae
    loop = Loop(run, "decoder", {"spatial": sdec, "temporal": tdec}, list(sdec.parameters()) + list(tdec.parameters()),
                lr=a.decoder_lr, total=a.decoder_steps, warmup=100)
    c = lat["scale"].shape[0]
    sc = torch.tensor(lat["scale"], dtype=torch.float32).reshape(1, c, 1, 1, 1)
    sh = torch.tensor(lat["shift"], dtype=torch.float32).reshape(1, c, 1, 1, 1)
    n, per = W.CHUNK_FRAMES, T_CHUNK
    acc, t_last = [], time.time()
    while loop.step < a.decoder_steps:
        rng, gen = step_rng(a.seed, "decoder", loop.step)
        from_pair = rng.random(DECODER_BATCH) < PAIR_SHARE
        pj = rng.integers(0, len(pz), DECODER_BATCH)  # the pairs are drawn with _pick's mix already
        ci = _pick(rng, rows, DECODER_BATCH)
        chunk = rng.integers(0, z_all.shape[2] // per, DECODER_BATCH)
        src = [(pz[p], prows[p]) if fp else (z_all[q], rows[q]) for fp, p, q in zip(from_pair, pj, ci)]
        z = torch.from_numpy(np.stack([zz[:, per * k:per * (k + 1)].astype(np.float32)
                                       for (zz, _), k in zip(src, chunk)]))
        clips = [clip_from_row(r) for _, r in src]
        raw = z * sc + sh
        sd = M.temporal_decode(vae, raw + NOISE_SIGMA * torch.randn(raw.shape, generator=gen), n)
        fsel = rng.integers(0, n, size=(DECODER_BATCH, FRAMES_PER_CHUNK))
        b_ix = np.repeat(np.arange(DECODER_BATCH), FRAMES_PER_CHUNK)
        f_ix = fsel.reshape(-1)
        pix = M.spatial_decode(vae, sd.permute(0, 2, 1, 3, 4)[torch.from_numpy(b_ix), torch.from_numpy(f_ix)]
                               / M.SCALING_FACTOR)
        frames = [int(chunk[b]) * n + int(f) for b, f in zip(b_ix, f_ix)]
        target = torch.from_numpy(np.stack([W.to_model(W.render_frame(clips[b], f)[None])[:, 0]
                                            for b, f in zip(b_ix, frames)]))
        wp = torch.from_numpy(np.stack([frame_weights(clips[b], f) for b, f in zip(b_ix, frames)]))[:, None]
        loss = pixel_loss(pix, target, wp)
        loop.update(loss, clip=0.5)
        acc.append(float(loss))
        if loop.step % a.log_every == 0:
            run.log(f"decoder step {loop.step}/{a.decoder_steps} loss {np.mean(acc):.4f} "
                    f"{(time.time() - t_last) / len(acc):.2f} s/step")
            acc, t_last = [], time.time()
        if loop.step % a.ckpt_every == 0 or loop.step == a.decoder_steps:
            loop.save()
            tick()
    save_atomic({"spatial": sdec.state_dict(), "temporal": tdec.state_dict()}, run.path(DECODER_FILE))
