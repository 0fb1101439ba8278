"""Tests of the OpenSora-VAE-v1.2 decoder (sora4j_export.vae): config, latent sizes, checkpoint key layout, and that the
scripted pack blocks composed the Java way equal the eager upstream-style decode."""

import contextlib
import dataclasses
import io
import json
import unittest

import torch
import torch.nn as nn

from sora4j_export import vae as V
from sora4j_export.blocks import BlockSpec

TOL = 1e-5


@contextlib.contextmanager
def no_weight_init():
    """Build big models fast: layers keep their uninitialised storage (only keys and shapes are looked at)."""
    classes = (nn.Conv2d, nn.Conv3d, nn.Linear)
    saved = {c: c.reset_parameters for c in classes}
    try:
        for c in classes:
            c.reset_parameters = lambda self: None
        yield
    finally:
        for c, f in saved.items():
            c.reset_parameters = f


def tiny_model(seed=0, dtype=torch.float32):
    torch.manual_seed(seed)
    m = V.VideoVAEDecoder(V.VAEConfig.tiny())
    with torch.no_grad():  # non-trivial norm affines, so that they matter in every comparison
        for name, p in m.named_parameters():
            if "norm" in name:
                p.copy_(torch.randn_like(p) * 0.1 + (1.0 if name.endswith("weight") else 0.0))
    return m.to(dtype).eval()


def expected_decoder_keys(cfg):
    """Decoder keys and shapes of the upstream pipeline, written out from the upstream constructors
    (opensora v1.2.0 vae_temporal.Decoder / VAE_Temporal, diffusers 0.27.2 AutoencoderKL decoder)."""
    keys = {}

    def gn(p, c):
        keys[p + ".weight"] = (c,)
        keys[p + ".bias"] = (c,)

    def conv3d(p, cin, cout, k, bias):
        keys[p + ".conv.weight"] = (cout, cin, k, k, k)
        if bias:
            keys[p + ".conv.bias"] = (cout,)

    def res3d(p, cin, cout):
        gn(p + ".norm1", cin)
        conv3d(p + ".conv1", cin, cout, 3, False)
        gn(p + ".norm2", cout)
        conv3d(p + ".conv2", cout, cout, 3, False)
        if cin != cout:
            conv3d(p + ".conv3", cin, cout, 1, False)

    t = "temporal_vae."
    lat, f, mults = cfg.latent_channels, cfg.temporal_filters, cfg.temporal_channel_multipliers
    conv3d(t + "post_quant_conv", lat, lat, 1, True)
    top = f * mults[-1]
    conv3d(t + "decoder.conv1", lat, top, 3, True)
    for j in range(cfg.temporal_num_res_blocks):
        res3d(f"{t}decoder.res_blocks.{j}", top, top)
    prev = top
    for i in reversed(range(len(mults))):
        c = f * mults[i]
        for j in range(cfg.temporal_num_res_blocks):
            res3d(f"{t}decoder.block_res_blocks.{i}.{j}", prev, c)
            prev = c
        if i > 0 and cfg.temporal_downsample[i - 1]:
            conv3d(f"{t}decoder.conv_blocks.{i - 1}", prev, 2 * prev, 3, True)
    gn(t + "decoder.norm1", prev)
    conv3d(t + "decoder.conv_out", prev, cfg.sd_latent_channels, 3, True)

    def conv2d(p, cin, cout, k):
        keys[p + ".weight"] = (cout, cin, k, k)
        keys[p + ".bias"] = (cout,)

    def res2d(p, cin, cout):
        gn(p + ".norm1", cin)
        conv2d(p + ".conv1", cin, cout, 3)
        gn(p + ".norm2", cout)
        conv2d(p + ".conv2", cout, cout, 3)
        if cin != cout:
            conv2d(p + ".conv_shortcut", cin, cout, 1)

    s = "spatial_vae.module."
    sd = cfg.sd_latent_channels
    chans = list(reversed(cfg.spatial_block_out_channels))
    conv2d(s + "post_quant_conv", sd, sd, 1)
    d = s + "decoder."
    conv2d(d + "conv_in", sd, chans[0], 3)
    res2d(d + "mid_block.resnets.0", chans[0], chans[0])
    res2d(d + "mid_block.resnets.1", chans[0], chans[0])
    a = d + "mid_block.attentions.0."
    gn(a + "group_norm", chans[0])
    for name in ("to_q", "to_k", "to_v", "to_out.0"):
        keys[a + name + ".weight"] = (chans[0], chans[0])
        keys[a + name + ".bias"] = (chans[0],)
    prev = chans[0]
    for i, c in enumerate(chans):
        for j in range(cfg.spatial_layers_per_block + 1):
            res2d(f"{d}up_blocks.{i}.resnets.{j}", prev if j == 0 else c, c)
        if i < len(chans) - 1:
            conv2d(f"{d}up_blocks.{i}.upsamplers.0.conv", c, c, 3)
        prev = c
    gn(d + "conv_norm_out", prev)
    conv2d(d + "conv_out", prev, cfg.out_channels, 3)
    return keys


# Real-config names and shapes as the upstream source defines them (spot checks written out by hand).
REAL_SAMPLE_KEYS = {
    "temporal_vae.post_quant_conv.conv.weight": (4, 4, 1, 1, 1),
    "temporal_vae.post_quant_conv.conv.bias": (4,),
    "temporal_vae.decoder.conv1.conv.weight": (512, 4, 3, 3, 3),
    "temporal_vae.decoder.conv1.conv.bias": (512,),
    "temporal_vae.decoder.res_blocks.0.norm1.weight": (512,),
    "temporal_vae.decoder.res_blocks.3.conv2.conv.weight": (512, 512, 3, 3, 3),
    "temporal_vae.decoder.block_res_blocks.3.0.conv1.conv.weight": (512, 512, 3, 3, 3),
    "temporal_vae.decoder.block_res_blocks.2.0.conv1.conv.weight": (256, 512, 3, 3, 3),
    "temporal_vae.decoder.block_res_blocks.2.0.conv3.conv.weight": (256, 512, 1, 1, 1),
    "temporal_vae.decoder.block_res_blocks.1.3.norm2.bias": (256,),
    "temporal_vae.decoder.block_res_blocks.0.0.conv3.conv.weight": (128, 256, 1, 1, 1),
    "temporal_vae.decoder.conv_blocks.2.conv.weight": (1024, 512, 3, 3, 3),
    "temporal_vae.decoder.conv_blocks.2.conv.bias": (1024,),
    "temporal_vae.decoder.conv_blocks.1.conv.weight": (512, 256, 3, 3, 3),
    "temporal_vae.decoder.norm1.weight": (128,),
    "temporal_vae.decoder.conv_out.conv.weight": (4, 128, 3, 3, 3),
    "temporal_vae.decoder.conv_out.conv.bias": (4,),
    "spatial_vae.module.post_quant_conv.weight": (4, 4, 1, 1),
    "spatial_vae.module.post_quant_conv.bias": (4,),
    "spatial_vae.module.decoder.conv_in.weight": (512, 4, 3, 3),
    "spatial_vae.module.decoder.mid_block.resnets.0.norm1.weight": (512,),
    "spatial_vae.module.decoder.mid_block.resnets.1.conv2.weight": (512, 512, 3, 3),
    "spatial_vae.module.decoder.mid_block.attentions.0.group_norm.weight": (512,),
    "spatial_vae.module.decoder.mid_block.attentions.0.to_q.weight": (512, 512),
    "spatial_vae.module.decoder.mid_block.attentions.0.to_k.bias": (512,),
    "spatial_vae.module.decoder.mid_block.attentions.0.to_v.weight": (512, 512),
    "spatial_vae.module.decoder.mid_block.attentions.0.to_out.0.weight": (512, 512),
    "spatial_vae.module.decoder.up_blocks.0.resnets.2.conv1.weight": (512, 512, 3, 3),
    "spatial_vae.module.decoder.up_blocks.0.upsamplers.0.conv.weight": (512, 512, 3, 3),
    "spatial_vae.module.decoder.up_blocks.1.upsamplers.0.conv.bias": (512,),
    "spatial_vae.module.decoder.up_blocks.2.resnets.0.conv1.weight": (256, 512, 3, 3),
    "spatial_vae.module.decoder.up_blocks.2.resnets.0.conv_shortcut.weight": (256, 512, 1, 1),
    "spatial_vae.module.decoder.up_blocks.2.upsamplers.0.conv.weight": (256, 256, 3, 3),
    "spatial_vae.module.decoder.up_blocks.3.resnets.0.conv_shortcut.weight": (128, 256, 1, 1),
    "spatial_vae.module.decoder.up_blocks.3.resnets.2.conv2.weight": (128, 128, 3, 3),
    "spatial_vae.module.decoder.conv_norm_out.weight": (128,),
    "spatial_vae.module.decoder.conv_out.weight": (3, 128, 3, 3),
    "spatial_vae.module.decoder.conv_out.bias": (3,),
}
REAL_ABSENT_KEYS = [
    "temporal_vae.decoder.res_blocks.0.conv1.conv.bias",  # res-block convs have no bias
    "temporal_vae.decoder.res_blocks.0.conv3.conv.weight",  # no shortcut conv at equal widths
    "temporal_vae.decoder.conv_blocks.0.conv.weight",  # level 1 does not upsample time (Identity)
    "spatial_vae.module.decoder.up_blocks.3.upsamplers.0.conv.weight",  # last up block does not upsample
    "spatial_vae.module.decoder.mid_block.attentions.0.query.weight",
    "scale",
    "shift",
]


class ConfigTest(unittest.TestCase):
    def test_v1_2_values(self):
        c = V.VAEConfig.v1_2()
        self.assertEqual(c.scale, (3.85, 2.32, 2.33, 3.06))
        self.assertEqual(c.shift, (-0.10, 0.34, 0.27, 0.98))
        self.assertEqual((c.micro_frame_size, c.micro_z_frame_size, c.spatial_micro_batch), (17, 5, 4))
        self.assertEqual((c.temporal_compression, c.spatial_compression), (4, 8))
        self.assertEqual(c.scaling_factor, 0.18215)
        self.assertEqual([c.temporal_filters * m for m in c.temporal_channel_multipliers], [128, 256, 256, 512])

    def test_tiny_same_structure(self):
        r, t = V.VAEConfig.v1_2(), V.VAEConfig.tiny()
        for f in ("temporal_channel_multipliers", "temporal_num_res_blocks", "temporal_downsample",
                  "spatial_layers_per_block", "scale", "shift", "micro_frame_size", "spatial_micro_batch"):
            self.assertEqual(getattr(r, f), getattr(t, f), f)
        self.assertEqual(len(r.spatial_block_out_channels), len(t.spatial_block_out_channels))

    def test_dict_round_trip(self):
        for c in (V.VAEConfig.v1_2(), V.VAEConfig.tiny()):
            d = json.loads(json.dumps(c.to_dict()))
            self.assertEqual(d["micro_z_frame_size"], 5)
            self.assertEqual(V.VAEConfig.from_dict(d), c)
        with self.assertRaises(ValueError):
            V.VAEConfig.from_dict(dict(V.VAEConfig.tiny().to_dict(), micro_z_frame_size=4))
        with self.assertRaises(ValueError):
            V.VAEConfig.from_dict({"no_such_field": 1})

    def test_manifest(self):
        m = V.VAEConfig.v1_2().manifest_dict()
        self.assertEqual(m, {"latentChannels": 4, "scale": [3.85, 2.32, 2.33, 3.06],
                             "shift": [-0.10, 0.34, 0.27, 0.98], "temporalCompression": 4, "spatialCompression": 8,
                             "microFrameSize": 17, "microZFrameSize": 5, "spatialMicroBatch": 4,
                             "spatialScalingFactor": 0.18215})


class LatentSizeTest(unittest.TestCase):
    def test_table(self):
        c = V.VAEConfig.v1_2()
        for f, t in ((68, 20), (17, 5), (34, 10), (20, 6), (51, 15), (16, 4), (18, 6), (1, 1)):
            self.assertEqual(c.latent_size(f, 256, 256), (t, 32, 32), f)
        self.assertEqual(c.latent_size(68, 166, 221), (20, 20, 27))
        self.assertEqual(V.latent_size(51, 240, 426), (15, 30, 53))
        self.assertEqual(V.VAEConfig.tiny().latent_size(34, 48, 72), (10, 6, 9))

    def test_chunk_plan(self):
        c = V.VAEConfig.v1_2()
        self.assertEqual(V.temporal_chunks(20, 68, c), [(0, 5, 17), (5, 10, 17), (10, 15, 17), (15, 20, 17)])
        self.assertEqual(V.temporal_chunks(6, 20, c), [(0, 5, 17), (5, 6, 3)])


class CheckpointKeysTest(unittest.TestCase):
    def test_tiny_exact_keys(self):
        cfg = V.VAEConfig.tiny()
        got = {k: tuple(v.shape) for k, v in V.VideoVAEDecoder(cfg).state_dict().items()}
        self.assertEqual(got, expected_decoder_keys(cfg))

    def test_real_keys(self):
        cfg = V.VAEConfig.v1_2()
        with no_weight_init():
            model = V.VideoVAEDecoder(cfg)
        got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        for k, shape in REAL_SAMPLE_KEYS.items():
            self.assertEqual(got.get(k), shape, k)
        for k in REAL_ABSENT_KEYS:
            self.assertNotIn(k, got)
        self.assertEqual(got, expected_decoder_keys(cfg))
        spatial = sum(v.numel() for k, v in model.state_dict().items() if k.startswith("spatial_vae."))
        self.assertEqual(spatial, 49_490_199)  # diffusers SD/SDXL VAE decoder + post_quant_conv

    def test_full_checkpoint_load(self):
        src = tiny_model(seed=3)
        full = dict(src.state_dict())
        full["temporal_vae.encoder.conv_in.conv.weight"] = torch.zeros(8, 4, 3, 3, 3)
        full["temporal_vae.quant_conv.conv.weight"] = torch.zeros(8, 8, 1, 1, 1)
        full["spatial_vae.module.encoder.conv_in.weight"] = torch.zeros(16, 3, 3, 3)
        full["spatial_vae.module.quant_conv.weight"] = torch.zeros(8, 8, 1, 1)
        full["scale"] = torch.tensor([3.85, 2.32, 2.33, 3.06]).reshape(1, 4, 1, 1, 1)
        full["shift"] = torch.tensor([-0.10, 0.34, 0.27, 0.98]).reshape(1, 4, 1, 1, 1)
        # legacy diffusers attention names
        p = "spatial_vae.module.decoder.mid_block.attentions.0."
        for new, old in (("to_q", "query"), ("to_k", "key"), ("to_v", "value"), ("to_out.0", "proj_attn")):
            for suffix in ("weight", "bias"):
                full[p + old + "." + suffix] = full.pop(p + new + "." + suffix)
        for k in full:
            if any(k.startswith(x) for x in V.IGNORED_CHECKPOINT_PREFIXES):
                self.assertTrue(V.is_ignored_checkpoint_key(k), k)
        dst = V.VideoVAEDecoder(V.VAEConfig.tiny())
        dst.load_checkpoint(full, strict=True)
        for k, v in src.state_dict().items():
            self.assertTrue(torch.equal(dst.state_dict()[k], v), k)
        scale, shift = V.checkpoint_normalization(full)
        self.assertEqual(len(scale), 4)
        self.assertAlmostEqual(shift[3], 0.98, places=6)
        self.assertIsNone(V.checkpoint_normalization({}))


class TemporalSemanticsTest(unittest.TestCase):
    def test_depth_to_time_order(self):
        x = torch.arange(4 * 3).float().reshape(1, 4, 3, 1, 1)  # channels (c, s) = c*2 + s
        y = V.depth_to_time(x, 2)
        self.assertEqual(tuple(y.shape), (1, 2, 6, 1, 1))
        for c in range(2):
            for t in range(3):
                for s in range(2):
                    self.assertEqual(y[0, c, t * 2 + s, 0, 0], x[0, c * 2 + s, t, 0, 0])

    def test_causal_conv_pads_time_in_front(self):
        torch.manual_seed(1)
        conv = V.CausalConv3d(3, 5, 3, bias=True)
        x = torch.randn(2, 3, 6, 4, 5)
        y = conv(x)
        self.assertEqual(tuple(y.shape), (2, 5, 6, 4, 5))
        manual = torch.nn.functional.conv3d(torch.nn.functional.pad(x, (1, 1, 1, 1, 2, 0)), conv.conv.weight,
                                            conv.conv.bias)
        self.assertLess((y - manual).abs().max().item(), 1e-6)
        x2 = x.clone()
        x2[:, :, 4] += 1.0  # a later frame never reaches earlier outputs
        y2 = conv(x2)
        self.assertTrue(torch.equal(y[:, :, :4], y2[:, :, :4]))
        self.assertGreater((y[:, :, 4:] - y2[:, :, 4:]).abs().max().item(), 1e-4)

    def test_temporal_decode_crops_front(self):
        m = tiny_model(seed=1)
        z = torch.randn(1, 4, 5, 3, 4)
        with torch.no_grad():
            full = m.temporal_vae.decoder(m.temporal_vae.post_quant_conv(z))
            self.assertEqual(full.shape[2], 20)
            for nf, pad in ((17, 3), (18, 2), (19, 1), (20, 0)):
                self.assertTrue(torch.equal(m.temporal_vae.decode(z, nf), full[:, :, pad:]), nf)

    def test_attention_slicing(self):
        torch.manual_seed(0)
        q, k, v = torch.randn(2, 37, 8), torch.randn(2, 37, 8), torch.randn(2, 37, 8)
        full = V.plain_attention(q, k, v, 8 ** -0.5, 1 << 20)
        ref = torch.softmax(q @ k.transpose(1, 2) / 8 ** 0.5, -1) @ v
        self.assertLess((full - ref).abs().max().item(), 1e-6)
        sliced = V.plain_attention(q, k, v, 8 ** -0.5, 37 * 5)  # 5 query rows per slice
        self.assertLess((sliced - full).abs().max().item(), 1e-6)


def script_roundtrip(module):
    buf = io.BytesIO()
    torch.jit.save(torch.jit.script(module), buf)
    buf.seek(0)
    return torch.jit.load(buf)


class BlocksTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = tiny_model(seed=0)
        cls.specs = V.vae_blocks(cls.model)
        cls.scripted = [dataclasses.replace(s, module=script_roundtrip(s.module)) for s in cls.specs]

    def test_block_list(self):
        names = [s.name for s in self.specs]
        self.assertEqual(names, [f"vae.temporal.{k:02d}" for k in range(6)] + [f"vae.spatial.{k:02d}" for k in range(6)])
        for s in self.specs:
            self.assertIsInstance(s, BlockSpec)
            self.assertEqual(s.set, "vae")
            kind = s.name.split(".")[1]
            self.assertEqual(s.role, "vae-" + kind)
            self.assertEqual(s.file, f"vae/{kind}_{s.order:02d}.pt")
            self.assertEqual(s.name, f"vae.{kind}.{s.order:02d}")
        # every decoder parameter is in exactly one block
        ids = [id(p) for s in self.specs for p in s.module.parameters()]
        self.assertEqual(len(ids), len(set(ids)))
        self.assertEqual(set(ids), {id(p) for p in self.model.parameters()})

    def test_blocks_equal_eager(self):
        torch.manual_seed(42)
        for frames in (17, 34, 20):
            t, h, w = self.model.latent_size(frames, 48, 72)
            self.assertEqual((h, w), (6, 9))
            z = torch.randn(1, 4, t, h, w)
            eager = self.model.decode(z, frames)
            self.assertEqual(tuple(eager.shape), (1, 3, frames, 48, 72))
            self.assertGreater(eager.abs().max().item(), 1e-3)
            got = V.decode_with_blocks(self.scripted, z, frames, self.model.config)
            self.assertEqual(got.dtype, torch.float32)
            self.assertEqual(tuple(got.shape), tuple(eager.shape))
            self.assertLess((got - eager).abs().max().item(), TOL, frames)

    def test_blocks_io_shapes(self):
        cfg = self.model.config
        parts = {s.name: s.module for s in self.scripted}
        n = torch.tensor(17, dtype=torch.int64)
        h = torch.randn(1, 4, 5, 6, 9)
        shapes = []
        for k in range(6):
            h = parts[f"vae.temporal.{k:02d}"](h, n)
            shapes.append(tuple(h.shape))
            self.assertTrue(h.is_contiguous() and h.dtype == torch.float32)
        self.assertEqual(shapes, [(1, 32, 5, 6, 9), (1, 32, 10, 6, 9), (1, 16, 20, 6, 9), (1, 16, 20, 6, 9),
                                  (1, 8, 20, 6, 9), (1, 4, 17, 6, 9)])
        x = torch.randn(3, 4, 6, 9)
        shapes = []
        for k in range(6):
            x = parts[f"vae.spatial.{k:02d}"](x)
            shapes.append(tuple(x.shape))
            self.assertTrue(x.is_contiguous() and x.dtype == torch.float32)
        self.assertEqual(shapes, [(3, 32, 6, 9), (3, 32, 12, 18), (3, 32, 24, 36), (3, 16, 48, 72), (3, 16, 48, 72),
                                  (3, 3, 48, 72)])
        self.assertEqual(cfg.out_channels, 3)

    def test_parts_run_at_other_sizes(self):
        parts = {s.name: s for s in self.specs}
        scripted = {s.name: s.module for s in self.scripted}
        with torch.no_grad():
            for tc, hh, ww, nf in ((5, 6, 9, 17), (2, 4, 3, 7), (1, 7, 5, 2)):
                h = torch.randn(1, 4, tc, hh, ww)
                n = torch.tensor(nf, dtype=torch.int64)
                for k in range(6):
                    name = f"vae.temporal.{k:02d}"
                    a = parts[name].module(h, n)
                    b = scripted[name](h, n)
                    self.assertLess((a - b).abs().max().item(), TOL, name)
                    h = a
                self.assertEqual(h.shape[2], 4 * tc - (4 - nf % 4) % 4)
            for fm, hh, ww in ((4, 6, 9), (1, 3, 5), (2, 8, 8)):
                x = torch.randn(fm, 4, hh, ww)
                for k in range(6):
                    name = f"vae.spatial.{k:02d}"
                    a = parts[name].module(x)
                    b = scripted[name](x)
                    self.assertLess((a - b).abs().max().item(), TOL, name)
                    x = a
                self.assertEqual(tuple(x.shape), (fm, 3, 8 * hh, 8 * ww))

    def test_cast_model_keeps_float32_io(self):
        # the weights are cast before scripting (double here, since CPU GroupNorm has no half kernel in torch 1.13)
        m64 = tiny_model(seed=0, dtype=torch.float64)
        blocks = [dataclasses.replace(s, module=script_roundtrip(s.module)) for s in V.vae_blocks(m64)]
        for s in blocks:
            self.assertEqual(next(s.module.parameters()).dtype, torch.float64)
        torch.manual_seed(7)
        z = torch.randn(1, 4, 6, 6, 9)
        got = V.decode_with_blocks(blocks, z, 20, m64.config)
        self.assertEqual(got.dtype, torch.float32)
        ref64 = m64.decode(z, 20)
        self.assertEqual(ref64.dtype, torch.float64)
        self.assertLess((got - ref64.float()).abs().max().item(), TOL)
        ref32 = self.model.decode(z, 20)  # same weights in float32: equal up to float32 rounding
        self.assertLess((got - ref32).abs().max().item(), 1e-4)


if __name__ == "__main__":
    unittest.main()
