#!/usr/bin/env python3
"""Independent PEFT-layout adapter fixtures for @plora/loader (issue 4, "Done when").

Writes, with NumPy only and a hand-written safetensors encoder (no torch, no peft, no plora code):

  packages/loader/test/fixtures/peft-python/<case>/adapter_config.json
  packages/loader/test/fixtures/peft-python/<case>/adapter_model.safetensors   (PEFT 0.12 key names)
  packages/loader/test/fixtures/peft-python/<case>/base_weights.safetensors    (the targeted base weights)
  packages/loader/test/fixtures/peft-python/<case>/expected_merged.safetensors (W + s*B@A, float64 -> F32)

Cases:
  gpt2  - GPT-2 Conv1D layout (weight [in, out], fan_in_fan_out=true), F32 factors, alpha/r scaling,
          targets attn.c_attn and attn.c_proj of 2 layers (mlp.c_proj deliberately NOT targeted).
  llama - Linear layout (weight [out, in]), F16 factors, use_rslora (alpha/sqrt(r)) and a
          rank_pattern/alpha_pattern override for v_proj.

The merged weight follows PEFT's LoraLayer.get_delta_weight: delta = transpose(B @ A) if fan_in_fan_out
else B @ A, times scaling. Re-run from the repo root:  python3 scripts/golden/loader_peft_fixture.py
"""
import json
import os
import struct

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'packages', 'loader', 'test', 'fixtures', 'peft-python')
DTYPES = {np.dtype('float32'): 'F32', np.dtype('float16'): 'F16'}


def write_safetensors(path, tensors, metadata=None):
    """The safetensors layout written by hand: u64 LE header length, JSON header, raw LE data."""
    header = {}
    if metadata is not None:
        header['__metadata__'] = metadata
    blobs, offset = [], 0
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name])
        data = arr.astype(arr.dtype.newbyteorder('<')).tobytes()
        header[name] = {'dtype': DTYPES[arr.dtype], 'shape': list(arr.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(',', ':')).encode('utf-8')
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def peft_config(**kw):
    cfg = {
        'alpha_pattern': {}, 'auto_mapping': None, 'base_model_name_or_path': 'fixture/tiny', 'bias': 'none',
        'fan_in_fan_out': False, 'inference_mode': True, 'init_lora_weights': True, 'layer_replication': None,
        'layers_pattern': None, 'layers_to_transform': None, 'loftq_config': {}, 'lora_alpha': 8, 'lora_dropout': 0.05,
        'megatron_config': None, 'megatron_core': 'megatron.core', 'modules_to_save': None, 'peft_type': 'LORA', 'r': 4,
        'rank_pattern': {}, 'revision': None, 'target_modules': [], 'task_type': 'CAUSAL_LM', 'use_dora': False,
        'use_rslora': False,
    }
    cfg.update(kw)
    return cfg


def build(case, modules, cfg, factor_dtype, rng):
    out = os.path.join(ROOT, case)
    os.makedirs(out, exist_ok=True)
    adapter, base, merged = {}, {}, {}
    for path, (n_in, n_out, conv1d) in modules.items():
        leaf = path.split('.')[-1]
        r = cfg['rank_pattern'].get(leaf, cfg['r'])
        alpha = cfg['alpha_pattern'].get(leaf, cfg['lora_alpha'])
        scale = alpha / np.sqrt(r) if cfg['use_rslora'] else alpha / r
        a = (rng.standard_normal((r, n_in)) * 0.3).astype(factor_dtype)
        b = (rng.standard_normal((n_out, r)) * 0.3).astype(factor_dtype)
        w = (rng.standard_normal((n_in, n_out) if conv1d else (n_out, n_in)) * 0.2).astype(np.float32)
        delta = b.astype(np.float64) @ a.astype(np.float64)
        if conv1d:
            delta = delta.T
        adapter[f'base_model.model.{path}.lora_A.weight'] = a
        adapter[f'base_model.model.{path}.lora_B.weight'] = b
        base[f'{path}.weight'] = w
        merged[f'{path}.weight'] = (w.astype(np.float64) + scale * delta).astype(np.float32)
    write_safetensors(os.path.join(out, 'adapter_model.safetensors'), adapter, {'format': 'pt'})
    write_safetensors(os.path.join(out, 'base_weights.safetensors'), base)
    write_safetensors(os.path.join(out, 'expected_merged.safetensors'), merged)
    with open(os.path.join(out, 'adapter_config.json'), 'w') as f:
        json.dump(cfg, f, indent=2, sort_keys=True)


def main():
    rng = np.random.default_rng(20240601)
    d = 8
    gpt2 = {}
    for layer in range(2):
        gpt2[f'transformer.h.{layer}.attn.c_attn'] = (d, 3 * d, True)
        gpt2[f'transformer.h.{layer}.attn.c_proj'] = (d, d, True)
    build('gpt2', gpt2, peft_config(r=4, lora_alpha=8, fan_in_fan_out=True, target_modules=['c_attn', 'attn.c_proj']), np.float32, rng)
    llama = {
        'model.layers.0.self_attn.q_proj': (d, d, False),
        'model.layers.0.self_attn.v_proj': (d, d // 2, False),
        'model.layers.0.mlp.down_proj': (2 * d, d, False),
    }
    build('llama', llama, peft_config(r=4, lora_alpha=16, use_rslora=True, rank_pattern={'v_proj': 2}, alpha_pattern={'v_proj': 3},
                                      target_modules=['q_proj', 'v_proj', 'down_proj']), np.float16, rng)


if __name__ == '__main__':
    main()
