"""The demo trainer's diffusion stage (``train.py``): STDiT3 + the small T5 trained with rectified flow on the
prompt world's latents, optionally as ``--procs`` data-parallel processes and in ``--micro-batch`` slices.

Every step draws its whole batch (clips, caption form, CFG drop-outs, timesteps, noise, TDTM choice) from the
step's seeded generators, exactly as one process would; each of the ``--procs`` processes then takes an equal share
of the batch, in slices of ``--micro-batch`` clips, and accumulates the gradient of its share of the batch mean; the
processes sum their gradients (gloo all-reduce on the machine's loopback) before clipping and AdamW. So the
processes, the slices and one process on the whole batch follow the same mathematics, up to floating-point
summation order. Process 0 logs, checkpoints and runs the monitor; the others only compute."""

from __future__ import annotations

import argparse
import datetime
import socket
import time

from typing import Optional

import numpy as np
import torch

from . import models as M
from . import world as W
from .runloop import Loop, Run, save_atomic, step_rng
from .vae_stages import clip_from_row


class _GradSum:
    """Sums the processes' gradients in one all-reduce; a parameter no process has a gradient for stays without one
    (AdamW then skips it, as it does in one process)."""

    def __init__(self):
        self.loss = 0.0

    def __call__(self, params) -> None:
        import torch.distributed as dist

        flat = [p.grad.reshape(-1) if p.grad is not None else torch.zeros(p.numel()) for p in params]
        have = torch.tensor([p.grad is not None for p in params], dtype=torch.float32)
        buf = torch.cat(flat + [have, torch.tensor([self.loss], dtype=torch.float32)])
        dist.all_reduce(buf)
        self.loss = float(buf[-1])
        have = buf[-1 - len(params):-1]
        off = 0
        for p, h in zip(params, have.tolist()):
            n = p.numel()
            p.grad = buf[off:off + n].view_as(p).clone() if h > 0 else None
            off += n


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _QuietRun(Run):
    """A compute-only process's run: it reads the run directory and writes nothing."""

    def log(self, msg: str) -> None:
        pass


def _rank_main(args: dict, rank: int, world: int, port: int) -> None:
    a = argparse.Namespace(**args)
    torch.set_num_threads(a.threads)
    train(_QuietRun(a), lambda: None, rank, world, port)


def stage_diffusion(run: Run, tick) -> None:
    """The diffusion stage; with ``--grow-at N`` the STDiT has depth ``--grow-from-depth`` until step N, where its
    checkpoint is grown to ``--depth`` (:mod:`.grow`: identity-initialised new block pairs), then training goes on."""
    a = run.args
    if getattr(a, "grow_at", 0):
        _grow_phase(run, tick)
    _train_processes(run, tick)


def _grow_phase(run: Run, tick) -> None:
    from ..tokenizer import build_vocab
    from .grow import checkpoint_depth, grow_checkpoint
    from .runloop import load_checkpoint

    a = run.args
    small, at = getattr(a, "grow_from_depth", 0), a.grow_at
    if not 0 < small < a.depth:
        raise SystemExit(f"--grow-at {at} needs --grow-from-depth between 1 and --depth {a.depth} - 1, got {small}")
    if not 0 < at < a.dit_steps:
        raise SystemExit(f"--grow-at {at} must lie inside the run's --dit-steps {a.dit_steps}")
    st = load_checkpoint(run.path("diffusion_ckpt.pt"))
    have = checkpoint_depth(st["modules"]["stdit"]) if st is not None else small
    if have == a.depth:
        return  # grown before
    if have != small:
        raise SystemExit(f"the run's checkpoint has depth {have}, neither --grow-from-depth {small} nor --depth "
                         f"{a.depth}")
    if st is not None and st["step"] > at:
        raise SystemExit(f"--grow-at {at}: the run's checkpoint is at step {st['step']} with depth {small} already; "
                         f"growing it now would not be growing at step {at} (grow it by hand with demo.grow, "
                         f"or choose --grow-at {st['step']} or later)")
    if st is None or st["step"] < at:
        _train_processes(Run(argparse.Namespace(**{**vars(a), "depth": small, "stop_at": at})), tick)
        st = load_checkpoint(run.path("diffusion_ckpt.pt"))
    save_atomic(grow_checkpoint(st, a.depth, len(build_vocab()), a.hidden, a.seed), run.path("diffusion_ckpt.pt"))
    run.log(f"diffusion: grew the STDiT from depth {small} to {a.depth} at step {st['step']} (demo.grow)")
    tick()


def _train_processes(run: Run, tick) -> None:
    a = run.args
    procs = max(1, getattr(a, "procs", 1))
    if a.batch % procs:
        raise SystemExit(f"--batch {a.batch} does not split into --procs {procs} equal shares")
    if procs == 1:
        train(run, tick, 0, 1, 0)
        return
    import multiprocessing as mp

    port = _free_port()
    others = [mp.get_context("spawn").Process(target=_rank_main, args=(vars(a), r, procs, port), daemon=True)
              for r in range(1, procs)]
    for p in others:
        p.start()
    try:
        train(run, tick, 0, procs, port)
    finally:
        for p in others:
            p.join(timeout=120)
            if p.is_alive():
                p.terminate()
    bad = [p.exitcode for p in others if p.exitcode]
    if bad:
        raise SystemExit(f"diffusion: a data-parallel process ended with exit code {bad[0]}")


def batch_clips(a, step: int, rng: np.random.Generator, n_clips: int, dark: np.ndarray, light: np.ndarray,
                light_squares: Optional[np.ndarray] = None):
    """The caption form and the clip indices of diffusion step ``step``'s batch.

    One caption form per batch (equal caption lengths); a form without background words takes dark clips only.
    From ``--light-from`` on, a share ``--light-share`` of the batches (drawn apart, so the other batches stay as
    they were) are *light batches*: a form that names the background, and light-background clips only. Without
    them a light clip is in about 22 % of the batches' samples (a form names the background with probability 0.45,
    then half the clips are light), and squares on light came out distorted or with a second blob. A share
    ``--light-square-share`` of the light batches (drawn apart again; from ``--light-square-from`` on) holds squares
    on light only, under a form that names the shape too, so that no caption without a shape word learns "square".
    """
    form = W.sample_caption_form(rng)
    pool = None if form.names("background") else dark
    share = getattr(a, "light_share", 0.0)
    if share > 0 and step >= getattr(a, "light_from", 0) \
            and np.random.default_rng([a.seed, 98, step]).random() < share:
        squares = getattr(a, "light_square_share", 0.0)
        if squares > 0 and light_squares is not None and len(light_squares) \
                and step >= getattr(a, "light_square_from", 0) \
                and np.random.default_rng([a.seed, 97, step]).random() < squares:
            form = W.sample_caption_form(rng, background_required=True, shape_required=True)
            pool = light_squares
        else:
            form = W.sample_caption_form(rng, background_required=True)
            pool = light
    idx = rng.integers(0, n_clips, size=a.batch) if pool is None else pool[rng.integers(0, len(pool), size=a.batch)]
    return form, idx


def train(run: Run, tick, rank: int, world: int, port: int) -> None:
    a = run.args
    from .. import reference as ref
    from ..tokenizer import WordLevelTokenizer, build_vocab
    from .train import _monitor

    if world > 1:
        import torch.distributed as dist

        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                                timeout=datetime.timedelta(minutes=30))
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
                ema_modules=["t5", "stdit"], ema_decay=a.ema, schedule="constant",
                cooldown=getattr(a, "lr_cooldown", 0))
    f32 = torch.float32
    fps, hh, ww = (torch.tensor([v], dtype=f32) for v in (float(W.FPS), float(W.HEIGHT), float(W.WIDTH)))
    T, Hl, Wl = z_all.shape[2:]
    lsize = torch.tensor([T, Hl, Wl], dtype=torch.int64)
    dark = np.nonzero(rows[:, 4] == list(W.BACKGROUNDS).index("dark"))[0]
    light = np.nonzero(rows[:, 4] == list(W.BACKGROUNDS).index("light"))[0]
    light_squares = np.nonzero((rows[:, 4] == list(W.BACKGROUNDS).index("light"))
                               & (rows[:, 1] == W.SHAPES.index("square")))[0]
    share = a.batch // world
    micro = getattr(a, "micro_batch", 0) or share
    if share % micro:
        raise SystemExit(f"--micro-batch {micro} does not divide a process's {share} clips of --batch {a.batch}")
    sync = _GradSum() if world > 1 else None
    acc, t_last, t_ckpt, c_last = [], time.time(), time.time(), time.process_time()
    stop = min(a.dit_steps, getattr(a, "stop_at", 0) or a.dit_steps)  # stop_at: the step a run grows at
    while loop.step < stop:
        rng, gen = step_rng(a.seed, "diffusion", loop.step)
        form, idx = batch_clips(a, loop.step, rng, len(z_all), dark, light, light_squares)
        x0 = z_all[idx]
        texts = [ref.prepare_prompt(W.caption(clip_from_row(rows[i]), form)) for i in idx]
        enc = [tok.encode(t, 300) for t in texts]
        L = sum(enc[0][1])
        ids = torch.tensor([e[0][:L] for e in enc], dtype=torch.int64)
        drop = torch.from_numpy(rng.random(a.batch) < a.cfg_dropout)
        tau = torch.rand(a.batch, generator=gen, dtype=torch.float64)
        # TDTM batches (from --tdtm-from): the attentions see frame pairs averaged, as the sampler runs them in its
        # first steps; their timesteps are those steps' (tau in [0.45, 1]). Drawn apart, so the other batches' data
        # stay as they were.
        merged = loop.step >= a.tdtm_from and np.random.default_rng([a.seed, 99, loop.step]).random() < a.tdtm_share
        if merged:
            tau = 0.45 + 0.55 * tau
        flat = torch.rand(a.batch, generator=gen) < a.uniform_t_share
        t = torch.where(flat, 1000.0 * tau, M.transform_timesteps(tau, W.FRAMES, W.HEIGHT, W.WIDTH)).to(f32)
        eps = torch.randn(x0.shape, generator=gen)
        loop.opt.zero_grad(set_to_none=True)
        loss_sum = 0.0
        for lo in range(rank * share, (rank + 1) * share, micro):
            sl = slice(lo, lo + micro)
            y = t5(ids[sl], torch.ones_like(ids[sl]))
            null = stdit.y_embedder.y_embedding[:L][None].expand(micro, -1, -1)
            y = torch.where(drop[sl, None, None], null, y)
            s = (t[sl] / 1000.0)[:, None, None, None, None]
            xt = (1 - s) * x0[sl] + s * eps[sl]
            x, y_tok, t_mlp, t_emb = embed(xt, t[sl], y, fps, hh, ww)
            for blk in blocks:
                x = ref.block_forward(blk, x, y_tok, t_mlp, T, x.shape[1] // T, merged)
            out = final(x, t_emb, lsize)
            loss = ((out[:, :4] - (x0[sl] - eps[sl])) ** 2).mean() * (micro / a.batch)  # its part of the batch mean
            loss.backward()
            loss_sum += float(loss)
        if sync is not None:
            sync.loss = loss_sum
        gn = loop.apply(sync=sync)
        acc.append(sync.loss if sync is not None else loss_sum)
        if rank:
            continue
        if loop.step % a.log_every == 0:
            run.log(f"diffusion step {loop.step}/{a.dit_steps} loss {np.mean(acc):.4f} grad {gn:.2f} "
                    f"lr {loop.opt.param_groups[0]['lr']:.2e} {(time.time() - t_last) / len(acc):.2f} s/step "
                    f"(CPU {(time.process_time() - c_last) / len(acc):.2f} s/step)")
            acc, t_last, c_last = [], time.time(), time.process_time()
        if (loop.step % a.ckpt_every == 0 or loop.step == stop
                or time.time() - t_ckpt >= 60.0 * a.ckpt_minutes):
            loop.save()
            tick()
            t_ckpt = time.time()
        if a.eval_every and (loop.step % a.eval_every == 0 or loop.step == a.dit_steps):
            _monitor(run, loop.ema["t5"], loop.ema["stdit"], lat, tok)
            tick()
    if rank == 0 and loop.step >= a.dit_steps:
        save_atomic({"t5": loop.ema["t5"].state_dict(), "stdit": loop.ema["stdit"].state_dict(),
                     "hidden": a.hidden, "depth": a.depth}, run.path("diffusion.pt"))
    if world > 1:
        import torch.distributed as dist

        dist.destroy_process_group()
