"""Writes open-sora-v1.2-block-sizes.json: the parameter bytes of every block of a real Open-Sora v1.2 pack
(T5-XXL encoder, STDiT3-XL/2, VAE decoder), counted on the exporter's own modules without any weights (T5 and
STDiT3 on the meta device, the VAE decoder in memory, 0.9 GB). MemoryPlan tests and docs/memory.md use it.

    PYTHONPATH=src/main/python /usr/bin/python3 \
        src/test/resources/io/github/sora4j/device/open_sora_v12_block_sizes.py > \
        src/test/resources/io/github/sora4j/device/open-sora-v1.2-block-sizes.json
"""
import json
import sys

import torch

from sora4j_export.quantize import quantize_t5_int8, quantized_parameter_bytes
from sora4j_export.stdit3 import STDiT3, STDiT3Config, stdit_blocks
from sora4j_export.t5 import T5Block, T5Config, T5Encoder, T5FirstBlock, t5_blocks
from sora4j_export.vae import VAEConfig, VideoVAEDecoder, vae_blocks


def count(module):
    seen, total = set(), 0
    for t in list(module.parameters()) + list(module.buffers()):
        if id(t) not in seen:
            seen.add(id(t))
            total += t.numel() * t.element_size()
    return total


def int8_block_bytes(first):
    block = T5Block(T5Config.xxl(), first).eval()
    return quantized_parameter_bytes(quantize_t5_int8(T5FirstBlock(block) if first else block, inplace=True))


meta = torch.device("meta")
specs = t5_blocks(T5Encoder(T5Config.xxl(), device=meta)) + stdit_blocks(STDiT3(STDiT3Config.xl2(), device=meta))
specs += vae_blocks(VideoVAEDecoder(VAEConfig.v1_2()))
int8 = {True: int8_block_bytes(True), False: int8_block_bytes(False)}
blocks = []
for s in specs:
    b = {"name": s.name, "set": s.set, "role": s.role, "order": s.order, "file": s.file, "float32": count(s.module)}
    if s.role == "t5-block":
        b["t5Int8"] = int8[s.order == 0]
    blocks.append(b)
json.dump({"source": "src/test/resources/io/github/sora4j/device/open_sora_v12_block_sizes.py",
           "blocks": blocks}, sys.stdout, indent=1)
sys.stdout.write("\n")
