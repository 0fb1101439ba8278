"""The demo trainer's run machinery: the run directory (log, stage times), per-step seeded generators, atomic
checkpoints, the resumable optimisation loop (AdamW, warm-up then cosine or constant learning rate, EMA) and the
stage wrapper that skips finished stages and counts each stage's wall time across sittings (``train.py``)."""

from __future__ import annotations

import copy
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch

STAGES = ("spatial", "bank", "temporal", "latents", "diffusion", "decoder", "pack")
_STAGE_ID = {s: i + 1 for i, s in enumerate(STAGES)}


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


class Loop:
    """A resumable optimisation loop: ``state`` (modules, optimiser, step) checkpointed to ``ckpt``."""

    def __init__(self, run: Run, stage: str, modules: dict, params, lr: float, total: int, warmup: int,
                 ema_modules=None, ema_decay: float = 0.0, betas=(0.9, 0.99), weight_decay: float = 0.0,
                 schedule: str = "cosine", cooldown: int = 0):
        self.run, self.stage, self.modules, self.total, self.warmup, self.peak = run, stage, modules, total, warmup, lr
        self.schedule, self.cooldown = schedule, cooldown
        self.params = [p for p in params if p.requires_grad]
        self.opt = torch.optim.AdamW(self.params, lr=lr, betas=betas, weight_decay=weight_decay)
        self.ema_decay = ema_decay
        self.ema = {k: copy.deepcopy(modules[k]).eval() for k in (ema_modules or [])}
        for m in self.ema.values():
            for p in m.parameters():
                p.requires_grad_(False)
        self.step = 0
        self.ckpt = run.path(f"{stage}_ckpt.pt")
        st = load_checkpoint(self.ckpt)
        if st is not None:
            for k, m in modules.items():
                try:
                    m.load_state_dict(st["modules"][k])
                except RuntimeError as e:
                    detail = " ".join(line.strip() for line in str(e).splitlines()[1:])[:400]
                    raise SystemExit(f"{self.ckpt} (or its compact form): the checkpoint's {k} weights do not fit "
                                     f"the model built from this command's options; resume with the options the run "
                                     f"was trained with (the diffusion stage: --hidden, --depth, and after a growth "
                                     f"the grown --depth; the run's log says which). {detail}") from e
            for k, m in self.ema.items():
                m.load_state_dict(st["ema"][k])
            self.opt.load_state_dict(st["opt"])
            self.step = int(st["step"])
            run.log(f"{stage}: resumed at step {self.step}")

    def lr_constant(self, step: int) -> float:
        """The "constant" schedule: warm-up, constant, then (``cooldown`` > 0) a linear decay to zero over the last
        ``cooldown`` steps before ``total`` (warmup-stable-decay: the constant phase's checkpoints can still be
        continued for longer with a later cool-down)."""
        lr = self.peak * min(1.0, (step + 1) / self.warmup)
        if self.cooldown > 0:
            lr *= min(1.0, max(0.0, (self.total - step) / self.cooldown))
        return lr

    def save(self) -> None:
        save_atomic({"modules": {k: m.state_dict() for k, m in self.modules.items()},
                     "ema": {k: m.state_dict() for k, m in self.ema.items()},
                     "opt": self.opt.state_dict(), "step": self.step}, self.ckpt)

    def update(self, loss: torch.Tensor, clip: float = 1.0) -> float:
        """One step on ``loss``: backward, then :meth:`apply`. Returns the gradient norm before clipping."""
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        return self.apply(clip)

    def apply(self, clip: float = 1.0, sync=None) -> float:
        """One step on the gradients already in the parameters (accumulated by the caller after
        ``opt.zero_grad(set_to_none=True)``): ``sync(params)`` first when given (data-parallel averaging), then the
        learning rate, clipping, AdamW and the EMA. Returns the gradient norm before clipping."""
        if sync is not None:
            sync(self.params)
        for g in self.opt.param_groups:
            if self.schedule == "constant":  # warmup, then constant: stopping at any step = a run of that length
                g["lr"] = self.lr_constant(self.step)
            else:
                g["lr"] = cosine_lr(self.step, self.total, self.peak, self.warmup)
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


COMPACT_FORMAT = "sora4j-compact-checkpoint-1"


def compact_path(ckpt: Path) -> Path:
    """``diffusion_ckpt.pt`` → ``diffusion_ckpt.compact.pt``."""
    return ckpt.with_name(ckpt.name[: -len(".pt")] + ".compact.pt")


def compact_checkpoint(ckpt: Path) -> Path:
    """Writes the small form of a :class:`Loop` checkpoint beside it, for committing (issue 16: a long run resumes
    across sittings from a checkpoint in the repository, and a full one is 4× the weights). The weights stay float32
    (training continues from them exactly); the EMA is stored as its difference from the weights and the AdamW
    moments as bfloat16 (relative error ≤ 2⁻⁸ on each, i.e. on the EMA's small drift from the weights and on the
    step sizes, not on the weights themselves). About 0.63 of the full checkpoint (weights 1 + EMA 0.5 + moments 1, of 4)."""
    st = torch.load(ckpt)
    bf = torch.bfloat16

    def small(t):
        return t.to(bf) if torch.is_tensor(t) and t.is_floating_point() else t

    delta = {k: {n: (v - st["modules"][k][n]).to(bf) if v.is_floating_point() else v for n, v in ema.items()}
             for k, ema in st["ema"].items()}
    opt = {"state": {i: {n: small(v) if n != "step" else v for n, v in s.items()}
                     for i, s in st["opt"]["state"].items()},
           "param_groups": st["opt"]["param_groups"]}
    out = compact_path(ckpt)
    save_atomic({"format": COMPACT_FORMAT, "step": st["step"], "modules": st["modules"], "ema_delta": delta,
                 "opt": opt}, out)
    return out


def load_checkpoint(ckpt: Path):
    """A :class:`Loop` checkpoint in the full form: ``ckpt`` itself, else its compact form expanded (float32 again),
    else None."""
    if ckpt.exists():
        return torch.load(ckpt)
    small = compact_path(ckpt)
    return read_compact(small) if small.exists() else None


def read_compact(small: Path) -> dict:
    """A compact checkpoint (:func:`compact_checkpoint`) expanded to the full form (float32 again)."""
    st = torch.load(small)
    if st.get("format") != COMPACT_FORMAT:
        raise ValueError(f"{small} is not a {COMPACT_FORMAT} file (format {st.get('format')!r})")
    f32 = torch.float32
    ema = {k: {n: st["modules"][k][n] + v.to(f32) if v.is_floating_point() else v for n, v in d.items()}
           for k, d in st["ema_delta"].items()}
    state = {i: {n: v.to(f32) if torch.is_tensor(v) and v.is_floating_point() and n != "step" else v
                 for n, v in s.items()} for i, s in st["opt"]["state"].items()}
    return {"modules": st["modules"], "ema": ema, "opt": {"state": state, "param_groups": st["opt"]["param_groups"]},
            "step": st["step"]}


def main(argv=None) -> int:
    import argparse
    p = argparse.ArgumentParser(prog="python3 -m sora4j_export.demo.runloop",
                                description="Write the compact, committable form of a training checkpoint.")
    p.add_argument("command", choices=["compact"])
    p.add_argument("checkpoint", type=Path, help="a stage's *_ckpt.pt")
    a = p.parse_args(argv)
    if not a.checkpoint.is_file():
        p.error(f"{a.checkpoint} does not exist")
    out = compact_checkpoint(a.checkpoint)
    print(f"{out}: {out.stat().st_size:,} bytes (full checkpoint {a.checkpoint.stat().st_size:,})")
    return 0


#: what each stage leaves for the later ones; a stage marked done whose output is gone runs again (bank.npz and
#: latents.npz are large and regenerable, so a committed checkpoint directory may leave them out)
STAGE_OUTPUTS = {"spatial": "spatial.pt", "bank": "bank.npz", "temporal": "temporal.pt", "latents": "latents.npz",
                 "diffusion": "diffusion.pt", "decoder": "decoder.pt"}


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


if __name__ == "__main__":
    raise SystemExit(main())
