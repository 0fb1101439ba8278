"""Tests for sora4j_export.stdit3 (STDiT3 and its pack blocks)."""

import copy
import io
import math
import unittest

import numpy as np
import torch
import torch.nn.functional as F

from sora4j_export.stdit3 import (STDiT3, STDiT3Config, apply_rope, null_embedding, pos_embed_2d, stdit_blocks,
                                  timestep_embedding, _pos_embed_reference)

# Per-block entries of upstream STDiT3Block (opensora v1.2.0 stdit3.py / layers/blocks.py, qk_norm=True):
# suffix -> shape(C, D) with C = hidden_size, D = head_dim.
_BLOCK_KEYS = {
    "scale_shift_table": lambda C, D: (6, C),
    "attn.qkv.weight": lambda C, D: (3 * C, C),
    "attn.qkv.bias": lambda C, D: (3 * C,),
    "attn.q_norm.weight": lambda C, D: (D,),
    "attn.k_norm.weight": lambda C, D: (D,),
    "attn.proj.weight": lambda C, D: (C, C),
    "attn.proj.bias": lambda C, D: (C,),
    "cross_attn.q_linear.weight": lambda C, D: (C, C),
    "cross_attn.q_linear.bias": lambda C, D: (C,),
    "cross_attn.kv_linear.weight": lambda C, D: (2 * C, C),
    "cross_attn.kv_linear.bias": lambda C, D: (2 * C,),
    "cross_attn.proj.weight": lambda C, D: (C, C),
    "cross_attn.proj.bias": lambda C, D: (C,),
    "mlp.fc1.weight": lambda C, D: (4 * C, C),
    "mlp.fc1.bias": lambda C, D: (4 * C,),
    "mlp.fc2.weight": lambda C, D: (C, 4 * C),
    "mlp.fc2.bias": lambda C, D: (C,),
}


def expected_keys(cfg: STDiT3Config):
    C, D, Cc = cfg.hidden_size, cfg.head_dim, cfg.caption_channels
    keys = {
        "rope.freqs": (D // 2,),
        "x_embedder.proj.weight": (C, cfg.in_channels) + tuple(cfg.patch_size),
        "x_embedder.proj.bias": (C,),
        "t_embedder.mlp.0.weight": (C, 256), "t_embedder.mlp.0.bias": (C,),
        "t_embedder.mlp.2.weight": (C, C), "t_embedder.mlp.2.bias": (C,),
        "fps_embedder.mlp.0.weight": (C, 256), "fps_embedder.mlp.0.bias": (C,),
        "fps_embedder.mlp.2.weight": (C, C), "fps_embedder.mlp.2.bias": (C,),
        "t_block.1.weight": (6 * C, C), "t_block.1.bias": (6 * C,),
        "y_embedder.y_embedding": (cfg.model_max_length, Cc),
        "y_embedder.y_proj.fc1.weight": (C, Cc), "y_embedder.y_proj.fc1.bias": (C,),
        "y_embedder.y_proj.fc2.weight": (C, C), "y_embedder.y_proj.fc2.bias": (C,),
        "final_layer.scale_shift_table": (2, C),
        "final_layer.linear.weight": (int(np.prod(cfg.patch_size)) * cfg.out_channels, C),
        "final_layer.linear.bias": (int(np.prod(cfg.patch_size)) * cfg.out_channels,),
    }
    for kind in ("spatial_blocks", "temporal_blocks"):
        for i in range(cfg.depth):
            for suffix, shape in _BLOCK_KEYS.items():
                keys[f"{kind}.{i}.{suffix}"] = shape(C, D)
    return keys


def roundtrip(module):
    scripted = torch.jit.script(module)
    buf = io.BytesIO()
    torch.jit.save(scripted, buf)
    buf.seek(0)
    return torch.jit.load(buf)


def make_inputs(cfg, B, T, H, W, L, Lt, seed):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(B, cfg.in_channels, T, H, W, generator=g)
    ts = torch.rand(B, generator=g) * 1000
    y = torch.randn(B, 1, Lt, cfg.caption_channels, generator=g)
    mask = torch.zeros(1, Lt, dtype=torch.long)
    mask[0, :L] = 1
    fps = torch.tensor([24.0])
    height, width = torch.tensor([H * 8.0]), torch.tensor([W * 8.0])
    return z, ts, y, mask, fps, height, width


def run_blocks(mods, z, ts, y_valid, fps, height, width):
    T, H, W = z.shape[2:]
    x, y_tok, t_mlp, t_emb = mods[0](z, ts, y_valid, fps, height, width)
    for m in mods[1:-1]:
        x = m(x, y_tok, t_mlp, torch.tensor(T, dtype=torch.int64))
    return mods[-1](x, t_emb, torch.tensor([T, H, W], dtype=torch.int64))


def naive_stdit(sd, cfg, z, ts, y, L, fps, height, width):
    """Independent STDiT3 forward from the state dict: explicit formulas, per-sample caption attention, numpy
    position/timestep embeddings (float64, then float32)."""
    C, Hd = cfg.hidden_size, cfg.num_heads
    D = C // Hd
    B, _, T, Hl, Wl = z.shape
    h, w = (Hl + 1) // 2, (Wl + 1) // 2
    S = h * w

    def lin(x, name):
        return x @ sd[name + ".weight"].T + sd[name + ".bias"]

    def ln(x):
        return (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + 1e-6)

    def rms(x, wt):
        return wt * x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)

    def gelu(x):
        return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))

    def sincos_t(v):  # cos first
        f = np.exp(-math.log(10000) * np.arange(128) / 128)
        a = np.asarray(v, dtype=np.float64)[:, None] * f[None]
        return torch.tensor(np.concatenate([np.cos(a), np.sin(a)], 1), dtype=torch.float32)

    def emb_mlp(v, pre):
        return lin(F.silu(lin(sincos_t(v), pre + ".mlp.0")), pre + ".mlp.2")

    # 2-D position embedding: first half column, second half row, [sin, cos] each
    scale = math.sqrt(float(height[0]) * float(width[0])) / cfg.input_sq_size
    base = round(math.sqrt(S))
    f = 1.0 / 10000 ** (np.arange(0, C // 2, 2) / (C // 2))
    r, c = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    gy, gx = (r.reshape(-1) / scale * base / h), (c.reshape(-1) / scale * base / w)
    pe = np.concatenate([np.sin(gx[:, None] * f), np.cos(gx[:, None] * f),
                         np.sin(gy[:, None] * f), np.cos(gy[:, None] * f)], 1)
    pos = torch.tensor(pe, dtype=torch.float32)

    zp = F.pad(z, (0, 2 * w - Wl, 0, 2 * h - Hl))
    x = F.conv3d(zp, sd["x_embedder.proj.weight"], sd["x_embedder.proj.bias"], stride=(1, 2, 2))
    x = x.permute(0, 2, 3, 4, 1).reshape(B, T, S, C) + pos
    x = x.reshape(B, T * S, C)
    t = emb_mlp(ts.tolist(), "t_embedder") + emb_mlp([float(fps[0])] * B, "fps_embedder")
    t_mlp = lin(F.silu(t), "t_block.1")
    yt = lin(gelu(lin(y[:, 0, :L], "y_embedder.y_proj.fc1")), "y_embedder.y_proj.fc2")  # [B, L, C]

    def attention(u, pre, rope):  # u [n, C]
        q, k, v = lin(u, pre + ".attn.qkv").view(-1, 3, Hd, D).unbind(1)  # [n, H, D]
        q, k = rms(q, sd[pre + ".attn.q_norm.weight"]), rms(k, sd[pre + ".attn.k_norm.weight"])
        if rope:
            ang = torch.arange(u.shape[0], dtype=torch.float32)[:, None] * sd["rope.freqs"][None]  # [n, D/2]
            rot = torch.polar(torch.ones_like(ang), ang)[:, None]  # pairs (2j, 2j+1) as complex numbers
            q = torch.view_as_real(torch.view_as_complex(q.reshape(*q.shape[:2], D // 2, 2).contiguous()) * rot)
            k = torch.view_as_real(torch.view_as_complex(k.reshape(*k.shape[:2], D // 2, 2).contiguous()) * rot)
            q, k = q.reshape(-1, Hd, D), k.reshape(-1, Hd, D)
        a = torch.softmax(torch.einsum("nhd,mhd->hnm", q, k) / math.sqrt(D), -1)
        return lin(torch.einsum("hnm,mhd->nhd", a, v).reshape(-1, C), pre + ".attn.proj")

    for j in range(cfg.depth):
        for kind in ("spatial", "temporal"):
            pre = f"{kind}_blocks.{j}"
            mod = sd[pre + ".scale_shift_table"][None] + t_mlp.view(B, 6, C)
            out = torch.zeros_like(x)
            for b in range(B):
                m = mod[b]
                xm = (ln(x[b]) * (1 + m[1]) + m[0]).view(T, S, C)
                att = torch.zeros_like(xm)
                if kind == "spatial":
                    for ti in range(T):
                        att[ti] = attention(xm[ti], pre, False)
                else:
                    for si in range(S):
                        att[:, si] = attention(xm[:, si], pre, True)
                xb = x[b] + m[2] * att.reshape(T * S, C)
                q = lin(xb, pre + ".cross_attn.q_linear").view(-1, Hd, D)
                k, v = lin(yt[b], pre + ".cross_attn.kv_linear").view(-1, 2, Hd, D).unbind(1)
                a = torch.softmax(torch.einsum("nhd,mhd->hnm", q, k) / math.sqrt(D), -1)
                xb = xb + lin(torch.einsum("hnm,mhd->nhd", a, v).reshape(-1, C), pre + ".cross_attn.proj")
                hm = ln(xb) * (1 + m[4]) + m[3]
                out[b] = xb + m[5] * lin(gelu(lin(hm, pre + ".mlp.fc1")), pre + ".mlp.fc2")
            x = out

    fm = sd["final_layer.scale_shift_table"][None] + t[:, None]
    o = lin(ln(x) * (1 + fm[:, 1:2]) + fm[:, 0:1], "final_layer.linear")  # [B, N, 32]
    res = torch.zeros(B, cfg.out_channels, T, 2 * h, 2 * w)
    o = o.view(B, T, h, w, 2, 2, cfg.out_channels)
    for ph in range(2):
        for pw in range(2):
            res[:, :, :, ph::2, pw::2] = o[:, :, :, :, ph, pw].permute(0, 4, 1, 2, 3)
    return res[:, :, :, :Hl, :Wl]


class ConfigTest(unittest.TestCase):
    def test_presets(self):
        xl = STDiT3Config.xl2()
        self.assertEqual((xl.in_channels, tuple(xl.patch_size), xl.hidden_size, xl.depth, xl.num_heads, xl.mlp_ratio,
                          xl.pred_sigma, xl.caption_channels, xl.model_max_length, xl.input_sq_size, xl.qk_norm),
                         (4, (1, 2, 2), 1152, 28, 16, 4.0, True, 4096, 300, 512, True))
        self.assertEqual((xl.out_channels, xl.head_dim), (8, 72))
        tiny = STDiT3Config.tiny(48)
        self.assertEqual((tiny.hidden_size, tiny.depth, tiny.num_heads, tiny.caption_channels,
                          tiny.model_max_length), (64, 2, 4, 48, 300))

    def test_dict_round_trip(self):
        tiny = STDiT3Config.tiny(48)
        self.assertEqual(STDiT3Config.from_dict(tiny.to_dict()), tiny)
        hf = {"architectures": ["STDiT3"], "model_type": "STDiT3", "caption_channels": 4096, "class_dropout_prob": 0.1,
              "depth": 28, "drop_path": 0.0, "enable_flash_attn": False, "hidden_size": 1152, "in_channels": 4,
              "input_size": [None, None, None], "input_sq_size": 512, "mlp_ratio": 4.0, "model_max_length": 300,
              "num_heads": 16, "patch_size": [1, 2, 2], "pred_sigma": True, "qk_norm": True}
        self.assertEqual(STDiT3Config.from_dict(hf), STDiT3Config.xl2())


class StateDictTest(unittest.TestCase):
    def test_tiny_exact(self):
        cfg = STDiT3Config.tiny(48)
        model = STDiT3(cfg)
        sd = model.state_dict()
        want = expected_keys(cfg)
        self.assertEqual(set(sd), set(want))
        for k, shape in want.items():
            self.assertEqual(tuple(sd[k].shape), shape, k)
        STDiT3(cfg).load_state_dict(sd, strict=True)

    def test_xl2_on_meta(self):
        cfg = STDiT3Config.xl2()
        model = STDiT3(cfg, device=torch.device("meta"))
        sd = model.state_dict()
        want = expected_keys(cfg)
        self.assertEqual(set(sd), set(want))
        for k, shape in want.items():
            self.assertEqual(tuple(sd[k].shape), shape, k)
        self.assertEqual(tuple(sd["spatial_blocks.0.attn.qkv.weight"].shape), (3456, 1152))
        self.assertEqual(tuple(sd["temporal_blocks.27.mlp.fc1.weight"].shape), (4608, 1152))
        self.assertEqual(tuple(sd["final_layer.linear.weight"].shape), (32, 1152))
        self.assertEqual(sum(p.numel() for p in model.spatial_blocks[0].parameters()), 21_255_696)

    def test_rope_freqs_and_null_embedding(self):
        cfg = STDiT3Config.tiny(48)
        model = STDiT3(cfg)
        want = 1.0 / 10000 ** (np.arange(0, cfg.head_dim, 2) / cfg.head_dim)
        np.testing.assert_allclose(model.rope.freqs.detach().numpy(), want, rtol=1e-6)
        self.assertFalse(model.rope.freqs.requires_grad)
        ne = null_embedding(model)
        self.assertEqual(tuple(ne.shape), (300, 48))
        self.assertEqual(ne.dtype, torch.float32)
        self.assertTrue(torch.equal(ne, model.y_embedder.y_embedding))


class EmbeddingMathTest(unittest.TestCase):
    def test_timestep_embedding_cos_first(self):
        t = torch.tensor([0.0, 1.0, 500.0, 999.0])
        got = timestep_embedding(t, 256).numpy()
        f = np.exp(-math.log(10000) * np.arange(128) / 128)
        a = t.numpy().astype(np.float64)[:, None] * f[None]
        np.testing.assert_allclose(got[:, :128], np.cos(a), atol=2e-4)
        np.testing.assert_allclose(got[:, 128:], np.sin(a), atol=2e-4)
        self.assertTrue(np.allclose(got[0, :128], 1.0) and np.allclose(got[0, 128:], 0.0))

    def test_pos_embed_256(self):
        # 256x256 pixels -> latent 32x32 -> grid 16x16: scale 0.5, base_size 16, gx = gy = 0, 2, ..., 30
        C = 64
        pe = pos_embed_2d(16, 16, C, 0.5, 16, torch.device("cpu")).numpy()
        self.assertEqual(pe.shape, (256, C))
        f = 1.0 / 10000 ** (np.arange(0, C // 2, 2) / (C // 2))
        g = 2.0 * np.arange(16)
        for s in (0, 1, 17, 100, 255):
            r, c = divmod(s, 16)
            want = np.concatenate([np.sin(g[c] * f), np.cos(g[c] * f), np.sin(g[r] * f), np.cos(g[r] * f)])
            np.testing.assert_allclose(pe[s], want, atol=1e-5)
        ref = _pos_embed_reference(C, 16, 16, 0.5, 16, torch.device("cpu"))[0].numpy()
        np.testing.assert_allclose(pe, ref, atol=1e-6)

    def test_pos_embed_rectangular_matches_upstream_formulation(self):
        for h, w, hp, wp in ((10, 14, 166, 221), (15, 27, 240, 426), (3, 4, 48, 56)):
            scale = math.sqrt(hp * wp) / 512
            base = round(math.sqrt(h * w))
            a = pos_embed_2d(h, w, 64, scale, base, torch.device("cpu"))
            b = _pos_embed_reference(64, h, w, scale, base, torch.device("cpu"))[0]
            self.assertLessEqual((a - b).abs().max().item(), 1e-6)

    def test_embed_block_adds_pos_embed_at_256(self):
        cfg = STDiT3Config.tiny(48)
        model = STDiT3(cfg).eval()
        with torch.no_grad():
            model.x_embedder.proj.weight.zero_()
            model.x_embedder.proj.bias.zero_()
        embed = roundtrip(stdit_blocks(model)[0].module)
        z = torch.randn(2, 4, 3, 32, 32)
        x, y_tok, t_mlp, t_emb = embed(z, torch.tensor([999.0, 999.0]), torch.randn(2, 5, 48), torch.tensor([24.0]),
                                       torch.tensor([256.0]), torch.tensor([256.0]))
        pe = pos_embed_2d(16, 16, 64, 0.5, 16, torch.device("cpu"))
        self.assertEqual(tuple(x.shape), (2, 3 * 256, 64))
        for ti in range(3):
            self.assertLessEqual((x[:, ti * 256:(ti + 1) * 256] - pe).abs().max().item(), 1e-6)
        self.assertEqual(tuple(y_tok.shape), (2, 5, 64))
        self.assertEqual(tuple(t_mlp.shape), (2, 6 * 64))
        self.assertEqual(tuple(t_emb.shape), (2, 64))

    def test_rope_interleaved(self):
        g = torch.Generator().manual_seed(0)
        x = torch.randn(3, 2, 5, 8, generator=g)
        freqs = 1.0 / 10000 ** (torch.arange(0, 8, 2).float() / 8)
        got = apply_rope(x, freqs)
        ang = torch.arange(5).float()[:, None] * freqs[None]
        want = torch.view_as_real(torch.view_as_complex(x.reshape(3, 2, 5, 4, 2).contiguous())
                                  * torch.polar(torch.ones_like(ang), ang)).reshape(3, 2, 5, 8)
        self.assertLessEqual((got - want).abs().max().item(), 1e-6)
        self.assertTrue(torch.equal(got[:, :, 0], x[:, :, 0]))  # position 0 is not rotated

    def test_unpatchify_channel_layout_and_crop(self):
        cfg = STDiT3Config.tiny(48)
        model = STDiT3(cfg).eval()
        with torch.no_grad():
            model.final_layer.linear.weight.zero_()
            model.final_layer.linear.bias.copy_(torch.arange(32, dtype=torch.float32))
        final = roundtrip(stdit_blocks(model)[-1].module)
        T, H, W = 2, 5, 7  # grid 3x4, padded to 6x8
        out = final(torch.randn(1, T * 12, 64), torch.randn(1, 64), torch.tensor([T, H, W]))
        self.assertEqual(tuple(out.shape), (1, 8, T, H, W))
        for c in range(8):
            for r in range(H):
                for col in range(W):
                    self.assertEqual(out[0, c, 1, r, col].item(), float(((r % 2) * 2 + col % 2) * 8 + c))


class BlocksTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.manual_seed(4321)
        cls.cfg = STDiT3Config.tiny(48)
        cls.model = STDiT3(cls.cfg).eval()
        with torch.no_grad():  # non-trivial q/k norm weights
            for blk in list(cls.model.spatial_blocks) + list(cls.model.temporal_blocks):
                blk.attn.q_norm.weight.uniform_(0.5, 1.5)
                blk.attn.k_norm.weight.uniform_(0.5, 1.5)
        cls.specs = stdit_blocks(cls.model)
        cls.mods = [roundtrip(s.module) for s in cls.specs]  # scripted once, used at every size below

    def test_specs(self):
        self.assertEqual([s.name for s in self.specs], ["stdit.embed", "stdit.block.00", "stdit.block.01",
                                                        "stdit.final"])
        self.assertEqual([s.file for s in self.specs], ["stdit/embed.pt", "stdit/block_00.pt", "stdit/block_01.pt",
                                                        "stdit/final.pt"])
        self.assertEqual([s.role for s in self.specs], ["stdit-embed", "stdit-block", "stdit-block", "stdit-final"])
        self.assertEqual([s.order for s in self.specs], [0, 0, 1, 0])
        self.assertTrue(all(s.set == "stdit" for s in self.specs))

    def test_eager_matches_independent_reference(self):
        z, ts, y, mask, fps, hh, ww = make_inputs(self.cfg, 2, 3, 5, 7, 4, 12, seed=11)
        with torch.no_grad():
            got = self.model(z, ts, y, mask, fps, hh, ww)
            want = naive_stdit(self.model.state_dict(), self.cfg, z, ts, y, 4, fps, hh, ww)
        self.assertEqual(tuple(got.shape), (2, 8, 3, 5, 7))
        self.assertLessEqual((got - want).abs().max().item(), 1e-4)

    def test_blocks_match_eager_at_several_sizes(self):
        # (B, T, H', W', L, Lt): T odd + W' odd; H' odd; a different B; T = 1
        for B, T, H, W, L, Lt, seed in ((2, 3, 6, 7, 5, 20, 1), (3, 4, 9, 8, 9, 12, 2), (1, 1, 4, 5, 1, 7, 3)):
            z, ts, y, mask, fps, hh, ww = make_inputs(self.cfg, B, T, H, W, L, Lt, seed)
            with torch.no_grad():
                want = self.model(z, ts, y, mask, fps, hh, ww)
            got = run_blocks(self.mods, z, ts, y[:, 0, :L], fps, hh, ww)
            self.assertEqual(got.dtype, torch.float32)
            self.assertEqual(tuple(got.shape), (B, 8, T, H, W))
            self.assertLessEqual((got - want).abs().max().item(), 1e-5, (B, T, H, W))

    def test_null_half_uses_conditional_mask(self):
        # upstream: y = [y_cond; y_null], mask [1, Lt] repeated for the null half -> same L rows of each
        z, ts, y, mask, fps, hh, ww = make_inputs(self.cfg, 2, 2, 4, 4, 6, 15, seed=5)
        y[1, 0] = self.model.y_embedder.y_embedding[:15]
        with torch.no_grad():
            want = self.model(z, ts, y, mask, fps, hh, ww)
        y_valid = torch.stack([y[0, 0, :6], null_embedding(self.model)[:6]])
        got = run_blocks(self.mods, z, ts, y_valid, fps, hh, ww)
        self.assertLessEqual((got - want).abs().max().item(), 1e-5)

    def test_substages_compose_to_fused_forward(self):
        g = torch.Generator().manual_seed(7)
        pair = self.mods[1]
        for B, T, S, L in ((2, 3, 12, 5), (3, 4, 6, 2)):
            x = torch.randn(B, T * S, 64, generator=g)
            y_tok = torch.randn(B, L, 64, generator=g)
            t_mlp = torch.randn(B, 6 * 64, generator=g)
            nf = torch.tensor(T, dtype=torch.int64)
            want = pair(x, y_tok, t_mlp, nf)
            h = x
            for half in ("spatial", "temporal"):
                a = getattr(pair, half + "_self_attn")(getattr(pair, half + "_norm_msa")(h, t_mlp), nf)
                h = getattr(pair, half + "_gate_msa")(h, a, t_mlp)
                h = h + getattr(pair, half + "_cross_attn")(h, y_tok)
                h = getattr(pair, half + "_mlp")(h, t_mlp)
            self.assertLessEqual((h - want).abs().max().item(), 1e-6)
            # the eager (unscripted) pair exposes the same methods
            eager = self.specs[1].module
            with torch.no_grad():
                self.assertLessEqual((eager(x, y_tok, t_mlp, nf) - want).abs().max().item(), 1e-6)

    def test_forward_merged_equals_the_substage_chain_around_the_merge_bit_for_bit(self):
        # forward_merged (TDTM inside the block) against the sub-stage chain with the merge made outside, group by
        # group as the Java TokenMerger does: frames summed in order then divided, outputs repeated back
        def merge(x, sizes, averaged):
            b, m, c = x.shape
            f = x.reshape(b, sum(sizes), m // sum(sizes), c)
            out, start = [], 0
            for n, k in zip(sizes, averaged):
                acc = f[:, start:start + 1]
                for j in range(1, k):
                    acc = acc + f[:, start + j:start + j + 1]
                out.append(acc / float(k) if k > 1 else acc)
                start += n
            return torch.cat(out, 1).reshape(b, -1, c)

        def unmerge(a, sizes):
            b, _, c = a.shape
            f = a.reshape(b, len(sizes), -1, c)
            return torch.cat([f[:, g:g + 1].expand(-1, n, -1, -1) for g, n in enumerate(sizes)], 1).reshape(b, -1, c)

        pair = self.mods[1]
        g = torch.Generator().manual_seed(9)
        # (sizes, averaged): pairs; the project's odd T; upstream's odd T (last frame dropped); groups of 4 with a
        # remainder of 2 and of 3 frames; one group; no merging
        cases = (([2] * 10, [2] * 10), ([2, 2, 1], [2, 2, 1]), ([2] * 6 + [3], [2] * 7), ([4, 4, 2], [4, 4, 2]),
                 ([4, 3], [4, 3]), ([3], [3]), ([2, 1], [2, 1]), ([1, 1, 1], [1, 1, 1]))
        for sizes, averaged in cases:
            T, S, B, L = sum(sizes), 6, 2, 3
            x = torch.randn(B, T * S, 64, generator=g)
            y_tok = torch.randn(B, L, 64, generator=g)
            t_mlp = torch.randn(B, 6 * 64, generator=g)
            nf = torch.tensor(len(sizes), dtype=torch.int64)
            h = x
            for half in ("spatial", "temporal"):
                a = getattr(pair, half + "_self_attn")(merge(getattr(pair, half + "_norm_msa")(h, t_mlp), sizes,
                                                             averaged), nf)
                h = getattr(pair, half + "_gate_msa")(h, unmerge(a, sizes), t_mlp)
                h = h + unmerge(getattr(pair, half + "_cross_attn")(merge(h, sizes, averaged), y_tok), sizes)
                h = getattr(pair, half + "_mlp")(h, t_mlp)
            got = pair.forward_merged(x, y_tok, t_mlp, torch.tensor([sizes, averaged], dtype=torch.int64))
            self.assertTrue(torch.equal(got, h), (sizes, averaged, (got - h).abs().max().item()))
            with torch.no_grad():  # the eager pair too
                eager = self.specs[1].module.forward_merged(x, y_tok, t_mlp, torch.tensor([sizes, averaged]))
            self.assertTrue(torch.equal(eager, h), (sizes, averaged))

    def test_self_attn_at_merged_frame_count(self):
        # TDTM: the caller averages frame pairs, so self_attn sees T' = T/2 frames (RoPE positions 0..T'-1)
        pair = self.mods[1]
        g = torch.Generator().manual_seed(8)
        B, T, S = 2, 4, 6
        h = torch.randn(B, T * S, 64, generator=g)
        merged = h.view(B, T // 2, 2, S, 64).mean(2).reshape(B, T // 2 * S, 64)
        for half in ("spatial", "temporal"):
            a = getattr(pair, half + "_self_attn")(merged, torch.tensor(T // 2))
            self.assertEqual(tuple(a.shape), (B, T // 2 * S, 64))
        # temporal attention of frame-major tokens equals attention run per spatial position
        temporal = self.model.temporal_blocks[0]
        a = pair.temporal_self_attn(h, torch.tensor(T))
        seq = h.view(B, T, S, 64)[:, :, 2]  # position s = 2, all frames
        with torch.no_grad():
            direct = temporal.attn(seq, self.model.rope.freqs)
        self.assertLessEqual((a.view(B, T, S, 64)[:, :, 2] - direct).abs().max().item(), 1e-6)

    def test_reduced_precision_weights_keep_float32_io(self):
        # .half() matmuls are not implemented on CPU in torch 1.13, so bfloat16 exercises the same cast path
        model = copy.deepcopy(self.model)
        mods = [roundtrip(s.module.to(torch.bfloat16)) for s in stdit_blocks(model)]
        z, ts, y, mask, fps, hh, ww = make_inputs(self.cfg, 2, 3, 6, 5, 4, 10, seed=9)
        with torch.no_grad():
            want = self.model(z, ts, y, mask, fps, hh, ww)
        got = run_blocks(mods, z, ts, y[:, 0, :4], fps, hh, ww)
        self.assertEqual(got.dtype, torch.float32)
        rel = (got - want).norm() / want.norm()
        self.assertLess(rel.item(), 0.05)


if __name__ == "__main__":
    unittest.main()
