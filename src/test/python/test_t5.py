"""Tests for sora4j_export.t5 (T5 v1.1 encoder and its pack blocks)."""

import copy
import io
import math
import unittest

import torch
import torch.nn as nn

from sora4j_export.t5 import (T5Config, T5Encoder, relative_position_bucket, t5_blocks)

# Per-block parameters of HF T5EncoderModel (T5 v1.1, gated GELU) as name suffix -> shape(cfg).
_BLOCK_KEYS = {
    "layer.0.SelfAttention.q.weight": lambda c: (c.num_heads * c.d_kv, c.d_model),
    "layer.0.SelfAttention.k.weight": lambda c: (c.num_heads * c.d_kv, c.d_model),
    "layer.0.SelfAttention.v.weight": lambda c: (c.num_heads * c.d_kv, c.d_model),
    "layer.0.SelfAttention.o.weight": lambda c: (c.d_model, c.num_heads * c.d_kv),
    "layer.0.layer_norm.weight": lambda c: (c.d_model,),
    "layer.1.DenseReluDense.wi_0.weight": lambda c: (c.d_ff, c.d_model),
    "layer.1.DenseReluDense.wi_1.weight": lambda c: (c.d_ff, c.d_model),
    "layer.1.DenseReluDense.wo.weight": lambda c: (c.d_model, c.d_ff),
    "layer.1.layer_norm.weight": lambda c: (c.d_model,),
}


def expected_keys(cfg: T5Config):
    keys = {
        "shared.weight": (cfg.vocab_size, cfg.d_model),
        "encoder.embed_tokens.weight": (cfg.vocab_size, cfg.d_model),
        "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight":
            (cfg.relative_attention_num_buckets, cfg.num_heads),
        "encoder.final_layer_norm.weight": (cfg.d_model,),
    }
    for i in range(cfg.num_layers):
        for suffix, shape in _BLOCK_KEYS.items():
            keys[f"encoder.block.{i}.{suffix}"] = shape(cfg)
    return keys


def roundtrip(module):
    scripted = torch.jit.script(module)
    buf = io.BytesIO()
    torch.jit.save(scripted, buf)
    buf.seek(0)
    return torch.jit.load(buf)


def make_inputs(batch, length, vocab, valid, seed):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(2, vocab, (batch, length), generator=g)
    mask = torch.zeros(batch, length, dtype=torch.long)
    for b, n in enumerate(valid):
        mask[b, :n] = 1
        ids[b, n - 1] = 1  # </s>
        ids[b, n:] = 0  # <pad>
    return ids, mask


def naive_t5(sd, cfg, ids, mask):
    """Independent T5 v1.1 encoder straight from the state dict (explicit formulas, no module code)."""
    def rms(x, w):
        return w * (x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + cfg.layer_norm_epsilon))

    def gelu_tanh(x):
        return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))

    n = ids.shape[1]
    # bucket table by hand: 16 buckets per direction, 8 exact, then log-spaced up to 128
    bucket = torch.zeros(n, n, dtype=torch.long)
    for i in range(n):
        for j in range(n):
            rel = j - i
            base = 16 if rel > 0 else 0
            d = abs(rel)
            if d < 8:
                b = d
            else:
                b = min(15, 8 + int(math.log(d / 8) / math.log(128 / 8) * 8))
            bucket[i, j] = base + b
    bias = sd["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"][bucket].permute(2, 0, 1)
    bias = bias[None] + (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
    h = sd["shared.weight"][ids]
    H, D = cfg.num_heads, cfg.d_kv
    for i in range(cfg.num_layers):
        p = f"encoder.block.{i}.layer."
        x = rms(h, sd[p + "0.layer_norm.weight"])
        q = (x @ sd[p + "0.SelfAttention.q.weight"].T).view(*x.shape[:2], H, D).transpose(1, 2)
        k = (x @ sd[p + "0.SelfAttention.k.weight"].T).view(*x.shape[:2], H, D).transpose(1, 2)
        v = (x @ sd[p + "0.SelfAttention.v.weight"].T).view(*x.shape[:2], H, D).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(-1, -2) + bias, -1) @ v
        h = h + a.transpose(1, 2).reshape(*x.shape[:2], H * D) @ sd[p + "0.SelfAttention.o.weight"].T
        x = rms(h, sd[p + "1.layer_norm.weight"])
        f = gelu_tanh(x @ sd[p + "1.DenseReluDense.wi_0.weight"].T) * (x @ sd[p + "1.DenseReluDense.wi_1.weight"].T)
        h = h + f @ sd[p + "1.DenseReluDense.wo.weight"].T
    return rms(h, sd["encoder.final_layer_norm.weight"])


def run_blocks(mods, ids, mask):
    h = mods[0](ids)
    h, bias = mods[1](h, mask)
    for m in mods[2:-1]:
        h, bias = m(h, bias)
    return mods[-1](h), bias


class T5ConfigTest(unittest.TestCase):
    def test_presets_and_dict(self):
        xxl = T5Config.xxl()
        self.assertEqual((xxl.vocab_size, xxl.d_model, xxl.d_kv, xxl.d_ff, xxl.num_layers, xxl.num_heads),
                         (32128, 4096, 64, 10240, 24, 64))
        self.assertEqual((xxl.relative_attention_num_buckets, xxl.relative_attention_max_distance), (32, 128))
        tiny = T5Config.tiny(100)
        self.assertEqual((tiny.vocab_size, tiny.d_model, tiny.d_kv, tiny.num_heads, tiny.d_ff, tiny.num_layers),
                         (100, 32, 8, 4, 64, 2))
        self.assertEqual(T5Config(**tiny.to_dict()), tiny)

    def test_from_hf_config(self):
        hf = {"architectures": ["T5EncoderModel"], "d_ff": 10240, "d_kv": 64, "d_model": 4096,
              "dense_act_fn": "gelu_new", "feed_forward_proj": "gated-gelu", "is_gated_act": True,
              "layer_norm_epsilon": 1e-06, "model_type": "t5", "num_heads": 64, "num_layers": 24,
              "relative_attention_max_distance": 128, "relative_attention_num_buckets": 32,
              "tie_word_embeddings": False, "vocab_size": 32128}
        self.assertEqual(T5Config.from_hf_config(hf), T5Config.xxl())
        with self.assertRaises(ValueError):
            T5Config.from_hf_config({"feed_forward_proj": "relu"})


class T5ModelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.manual_seed(1234)
        cls.cfg = T5Config.tiny(vocab_size=120)
        cls.model = T5Encoder(cls.cfg).eval()
        for p in cls.model.parameters():  # non-trivial norm weights
            if p.dim() == 1:
                p.data.uniform_(0.5, 1.5)
        cls.specs = t5_blocks(cls.model)
        cls.mods = [roundtrip(s.module) for s in cls.specs]

    def test_tiny_state_dict_exact(self):
        sd = self.model.state_dict()
        want = expected_keys(self.cfg)
        self.assertEqual(set(sd), set(want))
        for k, shape in want.items():
            self.assertEqual(tuple(sd[k].shape), shape, k)
        self.assertIs(self.model.shared, self.model.encoder.embed_tokens)
        other = T5Encoder(self.cfg)
        other.load_state_dict(sd, strict=True)

    def test_xxl_state_dict_on_meta(self):
        cfg = T5Config.xxl()
        model = T5Encoder(cfg, device=torch.device("meta"))
        sd = model.state_dict()
        want = expected_keys(cfg)
        self.assertEqual(set(sd), set(want))
        for k, shape in want.items():
            self.assertEqual(tuple(sd[k].shape), shape, k)
        self.assertEqual(len(sd), 220)
        self.assertEqual(sum(p.numel() for p in model.parameters()), 4_762_310_656)

    def test_relative_position_bucket(self):
        rel = torch.tensor([0, -1, 1, -7, 7, -8, 8, -12, 12, -127, 127, -128, -200, 200, -1000])
        got = relative_position_bucket(rel, True, 32, 128).tolist()
        self.assertEqual(got, [0, 1, 17, 7, 23, 8, 24, 9, 25, 15, 31, 15, 15, 31, 15])

    def test_eager_matches_independent_reference(self):
        ids, mask = make_inputs(2, 13, self.cfg.vocab_size, [9, 13], seed=1)
        with torch.no_grad():
            got = self.model(ids, mask)
            want = naive_t5(self.model.state_dict(), self.cfg, ids, mask)
        self.assertLessEqual((got - want).abs().max().item(), 1e-5)

    def test_block_specs(self):
        names = [s.name for s in self.specs]
        self.assertEqual(names, ["t5.embed", "t5.block.00", "t5.block.01", "t5.final_norm"])
        self.assertEqual([s.file for s in self.specs],
                         ["t5/embed.pt", "t5/block_00.pt", "t5/block_01.pt", "t5/final_norm.pt"])
        self.assertEqual([s.role for s in self.specs], ["t5-embed", "t5-block", "t5-block", "t5-final-norm"])
        self.assertEqual([s.order for s in self.specs], [0, 0, 1, 0])
        self.assertTrue(all(s.set == "t5" for s in self.specs))

    def test_scripted_blocks_match_eager_two_sizes(self):
        # the same scripted modules run at both sizes (no baked-in shapes)
        for batch, length, valid, seed in ((2, 12, [7, 12], 2), (3, 7, [3, 7, 1], 3)):
            ids, mask = make_inputs(batch, length, self.cfg.vocab_size, valid, seed)
            with torch.no_grad():
                want = self.model(ids, mask)
                got, bias = run_blocks(self.mods, ids, mask)
            self.assertEqual(got.dtype, torch.float32)
            self.assertEqual(tuple(got.shape), (batch, length, self.cfg.d_model))
            self.assertEqual(tuple(bias.shape), (batch, self.cfg.num_heads, length, length))
            self.assertLessEqual((got - want).abs().max().item(), 1e-5)
            # masked keys carry the additive mask, valid keys do not
            self.assertTrue(bool((bias[0, :, :, valid[0]:] < -1e38).all()))
            self.assertTrue(bool((bias[0, :, :, :valid[0]].abs() < 1e3).all()))

    def test_later_block_passes_bias_through(self):
        ids, mask = make_inputs(2, 9, self.cfg.vocab_size, [5, 9], seed=4)
        h = self.mods[0](ids)
        h, bias = self.mods[1](h, mask)
        _, bias2 = self.mods[2](h, bias)
        self.assertTrue(torch.equal(bias, bias2))

    def test_quantized_blocks_script_and_run(self):
        ids, mask = make_inputs(2, 10, self.cfg.vocab_size, [6, 10], seed=5)
        model = copy.deepcopy(self.model)
        specs = t5_blocks(model)
        mods = []
        for s in specs:
            m = s.module
            if s.role == "t5-block":
                m = torch.ao.quantization.quantize_dynamic(m, {nn.Linear}, dtype=torch.qint8)
                self.assertNotIsInstance(m.layer[1].DenseReluDense.wo if s.order else
                                         m.block.layer[1].DenseReluDense.wo, nn.Linear)
            mods.append(roundtrip(m))
        with torch.no_grad():
            want = self.model(ids, mask)
            got, _ = run_blocks(mods, ids, mask)
        self.assertEqual(got.dtype, torch.float32)
        self.assertTrue(bool(torch.isfinite(got).all()))
        rel = (got - want).norm() / want.norm()
        self.assertLess(rel.item(), 0.1)

    def test_reduced_precision_weights_keep_float32_io(self):
        # .half() matmuls are not implemented on CPU in torch 1.13, so bfloat16 exercises the same cast path
        ids, mask = make_inputs(2, 8, self.cfg.vocab_size, [5, 8], seed=6)
        model = copy.deepcopy(self.model)
        mods = [roundtrip(s.module.to(torch.bfloat16)) for s in t5_blocks(model)]
        with torch.no_grad():
            want = self.model(ids, mask)
            got, bias = run_blocks(mods, ids, mask)
        self.assertEqual(got.dtype, torch.float32)
        self.assertEqual(bias.dtype, torch.float32)
        rel = (got - want).norm() / want.norm()
        self.assertLess(rel.item(), 0.05)


if __name__ == "__main__":
    unittest.main()
