"""The demo trainer's autoencoder stages (``train.py``): the spatial VAE, the latent bank, the temporal VAE and the
encoded training latents with their shift and scale; plus the clip-row helpers the diffusion stage shares."""

from __future__ import annotations

import json
import time

import numpy as np
import torch
import torch.nn.functional as F

from . import models as M
from . import world as W
from .runloop import _STAGE_ID, Loop, Run, save_atomic, step_rng

NOISE_SIGMA = 0.1
FG_WEIGHT = 10.0


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


def pixel_loss(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The autoencoders' pixel loss: L1 + L2 per pixel, weighted (:func:`fg_weights`), over the mean weight."""
    err = pred - target
    return (weights * (err.abs() + err ** 2)).mean() / weights.mean()


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
        loss = pixel_loss(rec, x, wts) + 1e-4 * (raw ** 2).mean()
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
        loss_pix = pixel_loss(pix, target, wp)
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


def load_vae(run: Run, seed: int, scale=None, shift=None, tuned: bool = True):
    """The trained VAE decoder (spatial + temporal), with the pack's scale/shift if given: the decoder stage's
    (``decoder.pt``) when the run has one and ``tuned``, else the autoencoder stages'."""
    from .decoder_stage import DECODER_FILE

    kw = {} if scale is None else {"scale": tuple(float(s) for s in scale), "shift": tuple(float(s) for s in shift)}
    vae = M.build_vae(seed, **kw)
    if tuned and run.path(DECODER_FILE).exists():
        st = torch.load(run.path(DECODER_FILE))
        vae.spatial_vae.module.load_state_dict(st["spatial"])
        vae.temporal_vae.load_state_dict(st["temporal"])
    else:
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


_ENCODERS = None  # a latents worker's (spatial encoder, temporal encoder)


def _encoders(spatial_pt: str, temporal_pt: str):
    enc = M.SpatialEncoder()
    enc.load_state_dict(torch.load(spatial_pt)["enc"])
    tenc = M.TemporalEncoder()
    tenc.load_state_dict(torch.load(temporal_pt)["enc"])
    return enc.eval(), tenc.eval()


def _latents_worker_init(spatial_pt: str, temporal_pt: str) -> None:
    global _ENCODERS
    torch.set_num_threads(1)
    _ENCODERS = _encoders(spatial_pt, temporal_pt)


def _encode_rows(rows) -> np.ndarray:
    enc, tenc = _ENCODERS
    with torch.no_grad():
        return np.stack([encode_video(enc, tenc, W.render(clip_from_row(r))).numpy() for r in rows], 0)


def encode_clips(rows, spatial_pt: str, temporal_pt: str, workers: int = 1, log=None, chunk: int = 250) -> np.ndarray:
    """Clip rows (:func:`clip_row`) → raw latents [N, 4, 15, 8, 8], each clip rendered and encoded on its own by
    ``workers`` processes of one thread each, in order: the same bytes whatever the number of workers."""
    parts_in = [rows[i:i + chunk] for i in range(0, len(rows), chunk)]
    if workers <= 1:
        threads = torch.get_num_threads()
        _latents_worker_init(spatial_pt, temporal_pt)
        pool, parts = None, map(_encode_rows, parts_in)
    else:
        import multiprocessing as mp
        pool = mp.get_context("spawn").Pool(workers, _latents_worker_init, (spatial_pt, temporal_pt))
        parts = pool.imap(_encode_rows, parts_in)
    zs, done = [], 0
    try:
        for part in parts:
            zs.append(part)
            done += len(part)
            if log is not None and (done % 1000 == 0 or done == len(rows)):
                log(f"latents {done}/{len(rows)}")
    finally:
        if pool is None:
            torch.set_num_threads(threads)
        else:
            pool.close()
            pool.join()
    return np.concatenate(zs, 0)


def stage_latents(run: Run, tick) -> None:
    """Encodes ``--clips`` prompt-world clips: drawn first from one seeded stream, then encoded by
    ``--latent-workers`` processes (:func:`encode_clips`)."""
    a = run.args
    rng = np.random.default_rng([a.seed, _STAGE_ID["latents"]])
    rows = [clip_row(W.sample_clip(rng)) for _ in range(a.clips)]  # the prompt world
    paths = (str(run.path("spatial.pt")), str(run.path("temporal.pt")))
    z = encode_clips(rows, *paths, workers=getattr(a, "latent_workers", 1), log=run.log)
    enc, tenc = _encoders(*paths)
    clips = np.asarray(rows, dtype=np.float64)
    shift = z.mean(axis=(0, 2, 3, 4))
    scale = z.std(axis=(0, 2, 3, 4))
    zn = (z - shift[None, :, None, None, None]) / scale[None, :, None, None, None]
    np.savez(run.path("latents.npz"), z=zn.astype(np.float32), clips=clips, scale=scale, shift=shift)
    run.log(f"latents: {list(z.shape)} shift {np.round(shift, 4).tolist()} scale {np.round(scale, 4).tolist()}")
    vae = load_vae(run, a.seed, scale, shift)
    round_trip_report(run, enc, tenc, vae, scale, shift)
