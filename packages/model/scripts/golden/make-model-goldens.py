#!/usr/bin/env python3
"""Independent reference forward for the golden-logit tests of @plora/model.

Reads the tiny checkpoints written by write-golden-models.mjs (safetensors parsed by hand with
NumPy: u64 LE header length, JSON header, raw little-endian data) and computes logits in float64
from the published architectures, written from the papers / Hugging Face modelling semantics,
not from the TypeScript code:

* GPT-2 (Radford et al. 2019): pre-LN blocks, fused c_attn Conv1D (x @ W + b, W is [in, out]),
  learned positions, GELU tanh approximation, tied LM head.
* LLaMA / Qwen2 (Touvron et al. 2023): RMSNorm, RoPE with rope_theta (rotate_half convention),
  grouped-query attention (kv head = head // (n_heads / n_kv_heads)), SwiGLU MLP, nn.Linear
  (x @ W.T), tied or untied head; Qwen2 has biases on q/k/v; Mistral limits query i to keys
  i - sliding_window < j <= i.
* Gemma-3 text (Gemma Team 2025, "Gemma 3 Technical Report"; HF Gemma3ForCausalLM): RMSNorm
  scaling by (1 + w); embeddings times sqrt(hidden_size) (rounded to float32, as HF casts
  embed_scale to the weight dtype); four norms per layer (input, post-attention, pre- and
  post-feedforward, the post norms applied to the sublayer output before the residual add);
  q_norm / k_norm RMSNorm over head_dim on q and k before RoPE; attention scale
  query_pre_attn_scalar^-0.5; GeGLU MLP down(gelu_tanh(gate(x)) * up(x)); layers listed as
  sliding_attention see keys j with i - sliding_window < j <= i and use RoPE base
  rope_local_base_freq, full_attention layers see all j <= i with base rope_theta (layer_types,
  or every sliding_window_pattern-th layer global); tied head.

Positions with an attention mask are cumsum(mask) - 1 (clipped at 0), keys with mask 0 are
excluded; only logits at real (mask = 1) positions are recorded.

Two float64 cross-checks (PyTorch is required: Debian python3-torch, /usr/bin/python3), each
aborting with exit status 1 when it differs from the NumPy logits by more than 1e-9:
* every case is recomputed by this file with torch.nn.functional primitives swapped in
  (layer_norm, gelu(approximate='tanh'), silu, softmax; matmuls and RoPE stay NumPy), which
  guards the NumPy primitives (torch_max_abs_diff);
* every case is recomputed by torch-forward.py, a second reference written entirely in PyTorch
  from the Hugging Face modelling semantics (nn.Modules loaded with load_state_dict(strict=True),
  torch RoPE, hand-written masked attention, repeat_interleave GQA), sharing no code with this
  file; its max |Δ| at the real positions is recorded per case (torch_forward_max_abs_diff).

Usage (repo root): `make golden-model` (writes through a temporary file, then re-checks the
written file with torch-forward.py), or by hand:
  npx tsc -b packages/model
  node packages/model/scripts/golden/write-golden-models.mjs /tmp/golden-models
  /usr/bin/python3 packages/model/scripts/golden/make-model-goldens.py /tmp/golden-models \
      > /tmp/model-logits.json && mv /tmp/model-logits.json packages/model/test/golden/model-logits.json
"""
import json
import math
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", info["dtype"]
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(raw[base + b : base + e], dtype="<f4").reshape(info["shape"]).astype(np.float64)
    return out


class NumpyOps:
    name = "numpy"

    @staticmethod
    def layer_norm(x, w, b, eps):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * w + b

    @staticmethod
    def rms_norm(x, w, eps):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w

    @staticmethod
    def gelu_tanh(x):
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))

    @staticmethod
    def silu(x):
        return x / (1.0 + np.exp(-x))

    @staticmethod
    def softmax(x):
        m = x.max(-1, keepdims=True)
        e = np.exp(x - m)
        return e / e.sum(-1, keepdims=True)


def torch_ops():
    import torch
    import torch.nn.functional as F

    t = lambda a: torch.from_numpy(np.asarray(a, dtype=np.float64))

    class TorchOps:
        name = "torch"

        @staticmethod
        def layer_norm(x, w, b, eps):
            return F.layer_norm(t(x), (x.shape[-1],), t(w), t(b), eps).numpy()

        @staticmethod
        def rms_norm(x, w, eps):
            xx = t(x)
            return (xx * torch.rsqrt(xx.pow(2).mean(-1, keepdim=True) + eps) * t(w)).numpy()

        @staticmethod
        def gelu_tanh(x):
            return F.gelu(t(x), approximate="tanh").numpy()

        @staticmethod
        def silu(x):
            return F.silu(t(x)).numpy()

        @staticmethod
        def softmax(x):
            return torch.softmax(t(x), -1).numpy()

    return TorchOps


def masks(ids, mask, window=None):
    b, T = ids.shape
    pos = np.maximum(np.cumsum(mask, 1) - 1, 0)
    i = np.arange(T)[:, None]
    j = np.arange(T)[None, :]
    causal = j <= i
    if window is not None:
        causal = causal & (j > i - window)
    allowed = causal[None, :, :] & (mask[:, None, :] > 0)  # [b, q, k]
    return pos, allowed


def attend(q, k, v, allowed, ops, scale=None):
    # q [b,h,T,d], k/v [b,h,T,d]
    scores = q @ np.swapaxes(k, -1, -2)
    scores = scores / math.sqrt(q.shape[-1]) if scale is None else scores * scale
    scores = np.where(allowed[:, None, :, :], scores, -1e30)
    return ops.softmax(scores) @ v


def gpt2_forward(cfg, W, ids, mask, ops):
    b, T = ids.shape
    d, H = cfg["n_embd"], cfg["n_head"]
    dh = d // H
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    pos, allowed = masks(ids, mask)
    x = W["transformer.wte.weight"][ids] + W["transformer.wpe.weight"][pos]
    for i in range(cfg["n_layer"]):
        p = f"transformer.h.{i}."
        a = ops.layer_norm(x, W[p + "ln_1.weight"], W[p + "ln_1.bias"], eps)
        qkv = a @ W[p + "attn.c_attn.weight"] + W[p + "attn.c_attn.bias"]
        q, k, v = np.split(qkv, 3, axis=-1)
        heads = lambda z: z.reshape(b, T, H, dh).transpose(0, 2, 1, 3)
        o = attend(heads(q), heads(k), heads(v), allowed, ops).transpose(0, 2, 1, 3).reshape(b, T, d)
        x = x + o @ W[p + "attn.c_proj.weight"] + W[p + "attn.c_proj.bias"]
        m = ops.layer_norm(x, W[p + "ln_2.weight"], W[p + "ln_2.bias"], eps)
        f = ops.gelu_tanh(m @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"])
        x = x + f @ W[p + "mlp.c_proj.weight"] + W[p + "mlp.c_proj.bias"]
    x = ops.layer_norm(x, W["transformer.ln_f.weight"], W["transformer.ln_f.bias"], eps)
    return x @ W["transformer.wte.weight"].T


def rope(x, pos, theta):
    # x [b,h,T,d]; rotate_half convention of Hugging Face LLaMA.
    d = x.shape[-1]
    inv = 1.0 / theta ** (np.arange(0, d, 2) / d)
    ang = pos[:, None, :, None] * inv[None, None, None, :]
    cos = np.cos(np.concatenate([ang, ang], -1))
    sin = np.sin(np.concatenate([ang, ang], -1))
    x1, x2 = x[..., : d // 2], x[..., d // 2 :]
    return x * cos + np.concatenate([-x2, x1], -1) * sin


def llama_forward(cfg, W, ids, mask, ops):
    b, T = ids.shape
    d = cfg["hidden_size"]
    H = cfg["num_attention_heads"]
    KV = cfg.get("num_key_value_heads", H)
    dh = cfg.get("head_dim", d // H)
    eps = cfg.get("rms_norm_eps", 1e-6)
    theta = cfg.get("rope_theta", 10000.0)
    qwen = cfg["model_type"] == "qwen2"
    # Mistral: sliding window (MistralConfig default 4096; null = none); LLaMA / Qwen2: none.
    window = cfg.get("sliding_window", 4096) if cfg["model_type"] == "mistral" else None
    pos, allowed = masks(ids, mask, window)

    def lin(x, name):
        y = x @ W[name + ".weight"].T
        if name + ".bias" in W:
            y = y + W[name + ".bias"]
        return y

    x = W["model.embed_tokens.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        a = ops.rms_norm(x, W[p + "input_layernorm.weight"], eps)
        q = lin(a, p + "self_attn.q_proj").reshape(b, T, H, dh).transpose(0, 2, 1, 3)
        k = lin(a, p + "self_attn.k_proj").reshape(b, T, KV, dh).transpose(0, 2, 1, 3)
        v = lin(a, p + "self_attn.v_proj").reshape(b, T, KV, dh).transpose(0, 2, 1, 3)
        if qwen:
            assert p + "self_attn.q_proj.bias" in W
        q, k = rope(q, pos, theta), rope(k, pos, theta)
        rep = H // KV
        k = np.repeat(k, rep, axis=1)  # head h reads kv head h // rep
        v = np.repeat(v, rep, axis=1)
        o = attend(q, k, v, allowed, ops).transpose(0, 2, 1, 3).reshape(b, T, H * dh)
        x = x + lin(o, p + "self_attn.o_proj")
        m = ops.rms_norm(x, W[p + "post_attention_layernorm.weight"], eps)
        x = x + lin(ops.silu(lin(m, p + "mlp.gate_proj")) * lin(m, p + "mlp.up_proj"), p + "mlp.down_proj")
    x = ops.rms_norm(x, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else W["lm_head.weight"]
    return x @ head.T


def gemma3_forward(cfg, W, ids, mask, ops):
    b, T = ids.shape
    d = cfg["hidden_size"]
    H = cfg["num_attention_heads"]
    KV = cfg["num_key_value_heads"]
    dh = cfg["head_dim"]
    L = cfg["num_hidden_layers"]
    eps = cfg.get("rms_norm_eps", 1e-6)
    for key in ("final_logit_softcapping", "attn_logit_softcapping", "rope_scaling"):
        assert cfg.get(key) is None, key
    if "layer_types" in cfg:
        sliding = [t == "sliding_attention" for t in cfg["layer_types"]]
    else:
        pattern = cfg.get("sliding_window_pattern", 6)
        sliding = [(i + 1) % pattern != 0 for i in range(L)]
    pos, allowed_full = masks(ids, mask)
    _, allowed_local = masks(ids, mask, cfg["sliding_window"])
    scale = cfg["query_pre_attn_scalar"] ** -0.5

    def norm(x, name):
        return ops.rms_norm(x, 1.0 + W[name], eps)

    def lin(x, name):
        y = x @ W[name + ".weight"].T
        if name + ".bias" in W:
            y = y + W[name + ".bias"]
        return y

    x = W["model.embed_tokens.weight"][ids] * float(np.float32(math.sqrt(d)))
    for i in range(L):
        p = f"model.layers.{i}."
        theta = cfg["rope_local_base_freq"] if sliding[i] else cfg["rope_theta"]
        allowed = allowed_local if sliding[i] else allowed_full
        a = norm(x, p + "input_layernorm.weight")
        q = lin(a, p + "self_attn.q_proj").reshape(b, T, H, dh).transpose(0, 2, 1, 3)
        k = lin(a, p + "self_attn.k_proj").reshape(b, T, KV, dh).transpose(0, 2, 1, 3)
        v = lin(a, p + "self_attn.v_proj").reshape(b, T, KV, dh).transpose(0, 2, 1, 3)
        q = norm(q, p + "self_attn.q_norm.weight")
        k = norm(k, p + "self_attn.k_norm.weight")
        q, k = rope(q, pos, theta), rope(k, pos, theta)
        rep = H // KV
        k = np.repeat(k, rep, axis=1)
        v = np.repeat(v, rep, axis=1)
        o = attend(q, k, v, allowed, ops, scale).transpose(0, 2, 1, 3).reshape(b, T, H * dh)
        x = x + norm(lin(o, p + "self_attn.o_proj"), p + "post_attention_layernorm.weight")
        m = norm(x, p + "pre_feedforward_layernorm.weight")
        f = lin(ops.gelu_tanh(lin(m, p + "mlp.gate_proj")) * lin(m, p + "mlp.up_proj"), p + "mlp.down_proj")
        x = x + norm(f, p + "post_feedforward_layernorm.weight")
    x = norm(x, "model.norm.weight")
    head = W["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", True) else W["lm_head.weight"]
    return x @ head.T


FORWARDS = {"gpt2": gpt2_forward, "llama": llama_forward, "qwen2": llama_forward, "mistral": llama_forward, "gemma3_text": gemma3_forward}


def load_torch_forward():
    """The second, independent float64 reference (torch-forward.py, PyTorch modules; no code shared)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("torch_forward", os.path.join(HERE, "torch-forward.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    models = sys.argv[1]
    cases = json.load(open(os.path.join(HERE, "model-cases.json")))["cases"]
    try:
        import torch
    except ImportError:
        sys.stderr.write("make-model-goldens: PyTorch is required (Debian python3-torch; run with /usr/bin/python3)\n")
        sys.exit(1)
    tops, torch_version = torch_ops(), torch.__version__
    tfwd = load_torch_forward()
    out = []
    for c in cases:
        W = read_safetensors(os.path.join(models, c["name"], "model.safetensors"))
        ids = np.array(c["input_ids"])
        mask = np.array(c["attention_mask"])
        fwd = FORWARDS[c["config"]["model_type"]]
        logits = fwd(c["config"], W, ids, mask, NumpyOps)
        other = fwd(c["config"], W, ids, mask, tops)
        cross = float(np.abs(other - logits).max())
        real = [[logits[r, t].tolist() if mask[r, t] else None for t in range(ids.shape[1])] for r in range(ids.shape[0])]
        # The PyTorch reference, compared at the real positions of the rows just recorded.
        torch_diff, _ = tfwd.max_abs_diff_real(tfwd.case_logits(models, c), real, c["attention_mask"])
        sys.stderr.write(f"{c['name']:<26} torch primitives {cross:.3e}  torch forward {torch_diff:.3e}\n")
        if not (cross < 1e-9 and torch_diff <= 1e-9):
            sys.stderr.write(
                f"make-model-goldens: {c['name']}: the float64 references disagree "
                f"(NumPy vs torch primitives {cross:.3e}, NumPy vs torch-forward.py {torch_diff:.3e}; limit 1e-9)\n"
            )
            sys.exit(1)
        out.append({**c, "logits": real, "torch_max_abs_diff": cross, "torch_forward_max_abs_diff": torch_diff})
    json.dump(
        {
            "provenance": (
                "float64 NumPy forward written from the published GPT-2 / LLaMA / Mistral / Qwen2 / Gemma-3 "
                "architectures (scripts/golden/make-model-goldens.py) over checkpoints written by "
                "scripts/golden/write-golden-models.mjs, cross-checked against torch.nn.functional "
                "primitives (torch_max_abs_diff) and against a second, independent float64 PyTorch forward "
                "(scripts/golden/torch-forward.py, nn.Modules with Hugging Face parameter names loaded "
                "strictly; torch_forward_max_abs_diff, at real positions, at most 1e-9); "
                f"torch {torch_version}, numpy {np.__version__}"
            ),
            "torch_version": torch_version,
            "numpy_version": np.__version__,
            "cases": out,
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
