#!/usr/bin/env python3
"""Second, independent float64 reference for the golden logits of @plora/model, written in PyTorch.

It shares no code with make-model-goldens.py (the NumPy reference): every architecture is an
nn.Module written from the Hugging Face modelling semantics (parameter names as in the HF
state dicts, so the checkpoint is loaded with load_state_dict(strict=True): a missing or an
unexpected tensor is an error), run in torch.float64:

* GPT2LMHeadModel: wte + wpe, pre-LN blocks (ln_1, attention, ln_2, MLP), Conv1D
  (y = x @ W + b, W is [in, out]) for c_attn (fused q|k|v) / c_proj / c_fc, attention scale
  head_dim^-1/2, GELU tanh approximation ("gelu_new"), n_inner = 4 * n_embd when null, ln_f,
  head tied to wte.
* LlamaForCausalLM / MistralForCausalLM / Qwen2ForCausalLM: nn.Linear (y = x @ W.T + b), RMSNorm
  x * rsqrt(mean(x^2) + eps) * w, rotary embedding (inv_freq = 1 / theta^(2i/d), cos/sin of
  position * inv_freq concatenated twice, q * cos + rotate_half(q) * sin), grouped-query
  attention by repeat_interleave of the kv heads (HF repeat_kv), SwiGLU MLP
  down(silu(gate(x)) * up(x)), final norm, lm_head (or embed_tokens when tie_word_embeddings).
  Biases: LLaMA / Mistral from attention_bias (q/k/v/o) and mlp_bias (LLaMA), Qwen2 q/k/v always.
  Mistral masks keys outside the sliding window: query i sees i - sliding_window < j <= i
  (MistralConfig default 4096, null = no window).
* Gemma3ForCausalLM (text): Gemma3TextScaledWordEmbedding (embeddings times
  torch.tensor(hidden_size ** 0.5), a float32 buffer cast to the weight dtype: sqrt(d) rounded to
  float32), Gemma3RMSNorm x * rsqrt(mean(x^2) + eps) * (1 + w), per layer input_layernorm ->
  attention -> post_attention_layernorm -> residual, pre_feedforward_layernorm -> MLP
  down(gelu_tanh(gate(x)) * up(x)) -> post_feedforward_layernorm -> residual; q_norm / k_norm over
  head_dim after the head split and before RoPE; attention scale query_pre_attn_scalar^-1/2;
  layer_types (or every sliding_window_pattern-th layer "full_attention", HF's
  bool((i + 1) % pattern)) choose sliding layers (keys i - sliding_window < j <= i, RoPE base
  rope_local_base_freq) and global layers (all j <= i, base rope_theta); soft-capping and
  rope_scaling must be null; tied head.

Attention is written by hand (torch 1.13 has no F.scaled_dot_product_attention):
softmax(q @ k^T * scale + mask) @ v, the mask adding the most negative float64 where a key is
disallowed (causal, window, or attention_mask 0). Positions of a padded batch are
cumsum(attention_mask) - 1 clipped at 0 (what generate passes as position_ids; the value at
padded positions never reaches a real one). Unlike HF, which computes the rotary angles and the
softmax in float32 even for a float64 model, everything here stays float64.

Usage (repo root): compare against the committed goldens at their real positions, exit 1 when a
case differs by more than --tol (default 1e-9):
  npx tsc -b packages/model
  node packages/model/scripts/golden/write-golden-models.mjs /tmp/golden-models
  /usr/bin/python3 packages/model/scripts/golden/torch-forward.py /tmp/golden-models \
      [packages/model/test/golden/model-logits.json] [--tol 1e-9]
make-model-goldens.py loads this file (importlib) and calls case_logits() for every case it writes.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
from torch import nn

DT = torch.float64
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_GOLDEN = os.path.join(HERE, "..", "..", "test", "golden", "model-logits.json")


def load_safetensors(path):
    """name -> float64 tensor; the format is a u64 LE header size, a JSON header, raw LE data."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf8"))
    data = raw[8 + n :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise SystemExit(f"{path}: tensor {name} has dtype {info['dtype']}, expected F32")
        b, e = info["data_offsets"]
        a = np.frombuffer(data[b:e], dtype="<f4").reshape(info["shape"])
        out[name] = torch.from_numpy(a.astype(np.float64))
    return out


# ---------------------------------------------------------------- shared pieces


def positions_and_masks(mask, window=None):
    """position_ids [b, T] and the boolean allowed-key mask [b, 1, T, T] (query, key)."""
    mask = mask.to(torch.long)
    b, T = mask.shape
    pos = (torch.cumsum(mask, dim=1) - 1).clamp(min=0)
    q = torch.arange(T).view(T, 1)
    k = torch.arange(T).view(1, T)
    allowed = k <= q
    if window is not None:
        allowed = allowed & (k > q - window)
    allowed = allowed.view(1, 1, T, T) & (mask.view(b, 1, 1, T) > 0)
    return pos, allowed


def eager_attention(q, k, v, allowed, scale):
    # q/k/v [b, heads, T, head_dim]; allowed [b, 1, T, T]
    scores = torch.matmul(q, k.transpose(-1, -2)) * scale
    scores = scores.masked_fill(~allowed, torch.finfo(DT).min)
    probs = torch.softmax(scores, dim=-1)
    return torch.matmul(probs, v)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rotary_cos_sin(pos, dim, theta):
    inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=DT) / dim))
    freqs = pos.to(DT).unsqueeze(-1) * inv_freq  # [b, T, dim / 2]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().unsqueeze(1), emb.sin().unsqueeze(1)  # [b, 1, T, dim]


def apply_rotary(x, cos, sin):
    return x * cos + rotate_half(x) * sin


def gelu_tanh(x):
    return torch.nn.functional.gelu(x, approximate="tanh")


class RMSNorm(nn.Module):
    def __init__(self, dim, eps, one_plus=False):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(dim, dtype=DT))
        self.eps = eps
        self.one_plus = one_plus

    def forward(self, x):
        y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return y * (1.0 + self.weight) if self.one_plus else y * self.weight


def linear(i, o, bias):
    return nn.Linear(i, o, bias=bias, dtype=DT)


# ---------------------------------------------------------------- GPT-2


class Conv1D(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(i, o, dtype=DT))
        self.bias = nn.Parameter(torch.zeros(o, dtype=DT))

    def forward(self, x):
        return torch.matmul(x, self.weight) + self.bias


class GPT2Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads, self.head_dim = heads, d // heads
        self.c_attn = Conv1D(d, 3 * d)
        self.c_proj = Conv1D(d, d)

    def forward(self, x, allowed):
        b, T, d = x.shape
        q, k, v = self.c_attn(x).split(d, dim=-1)
        split = lambda z: z.view(b, T, self.heads, self.head_dim).transpose(1, 2)
        o = eager_attention(split(q), split(k), split(v), allowed, self.head_dim**-0.5)
        return self.c_proj(o.transpose(1, 2).reshape(b, T, d))


class GPT2MLP(nn.Module):
    def __init__(self, d, inner):
        super().__init__()
        self.c_fc = Conv1D(d, inner)
        self.c_proj = Conv1D(inner, d)

    def forward(self, x):
        return self.c_proj(gelu_tanh(self.c_fc(x)))


class GPT2Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, eps = cfg["n_embd"], cfg.get("layer_norm_epsilon", 1e-5)
        self.ln_1 = nn.LayerNorm(d, eps=eps, dtype=DT)
        self.attn = GPT2Attention(d, cfg["n_head"])
        self.ln_2 = nn.LayerNorm(d, eps=eps, dtype=DT)
        self.mlp = GPT2MLP(d, cfg.get("n_inner") or 4 * d)

    def forward(self, x, allowed):
        x = x + self.attn(self.ln_1(x), allowed)
        return x + self.mlp(self.ln_2(x))


class GPT2Model(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        assert cfg.get("activation_function", "gelu_new") == "gelu_new", cfg.get("activation_function")
        d = cfg["n_embd"]
        self.wte = nn.Embedding(cfg["vocab_size"], d, dtype=DT)
        self.wpe = nn.Embedding(cfg["n_positions"], d, dtype=DT)
        self.h = nn.ModuleList(GPT2Block(cfg) for _ in range(cfg["n_layer"]))
        self.ln_f = nn.LayerNorm(d, eps=cfg.get("layer_norm_epsilon", 1e-5), dtype=DT)


class GPT2LMHeadModel(nn.Module):
    tied = True

    def __init__(self, cfg):
        super().__init__()
        self.transformer = GPT2Model(cfg)

    def forward(self, ids, mask):
        t = self.transformer
        pos, allowed = positions_and_masks(mask)
        x = t.wte(ids) + t.wpe(pos)
        for block in t.h:
            x = block(x, allowed)
        return torch.matmul(t.ln_f(x), t.wte.weight.T)


# ---------------------------------------------------------------- LLaMA / Mistral / Qwen2


class LlamaAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["hidden_size"]
        self.heads = cfg["num_attention_heads"]
        self.kv_heads = cfg.get("num_key_value_heads") or self.heads
        self.head_dim = cfg.get("head_dim") or d // self.heads
        qkv_bias = cfg["model_type"] == "qwen2" or bool(cfg.get("attention_bias", False))
        o_bias = cfg["model_type"] != "qwen2" and bool(cfg.get("attention_bias", False))
        self.q_proj = linear(d, self.heads * self.head_dim, qkv_bias)
        self.k_proj = linear(d, self.kv_heads * self.head_dim, qkv_bias)
        self.v_proj = linear(d, self.kv_heads * self.head_dim, qkv_bias)
        self.o_proj = linear(self.heads * self.head_dim, d, o_bias)

    def forward(self, x, cos, sin, allowed):
        b, T, _ = x.shape
        q = self.q_proj(x).view(b, T, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, T, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, T, self.kv_heads, self.head_dim).transpose(1, 2)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        rep = self.heads // self.kv_heads
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        o = eager_attention(q, k, v, allowed, self.head_dim**-0.5)
        return self.o_proj(o.transpose(1, 2).reshape(b, T, self.heads * self.head_dim))


class GatedMLP(nn.Module):
    def __init__(self, d, inner, act, bias=False):
        super().__init__()
        self.gate_proj = linear(d, inner, bias)
        self.up_proj = linear(d, inner, bias)
        self.down_proj = linear(inner, d, bias)
        self.act = act

    def forward(self, x):
        return self.down_proj(self.act(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, eps = cfg["hidden_size"], cfg.get("rms_norm_eps", 1e-6)
        assert cfg.get("hidden_act", "silu") == "silu", cfg.get("hidden_act")
        self.input_layernorm = RMSNorm(d, eps)
        self.self_attn = LlamaAttention(cfg)
        self.post_attention_layernorm = RMSNorm(d, eps)
        mlp_bias = cfg["model_type"] == "llama" and bool(cfg.get("mlp_bias", False))
        self.mlp = GatedMLP(d, cfg["intermediate_size"], torch.nn.functional.silu, mlp_bias)

    def forward(self, x, cos, sin, allowed):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, allowed)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"], dtype=DT)
        self.layers = nn.ModuleList(LlamaDecoderLayer(cfg) for _ in range(cfg["num_hidden_layers"]))
        self.norm = RMSNorm(cfg["hidden_size"], cfg.get("rms_norm_eps", 1e-6))


class LlamaForCausalLM(nn.Module):
    """Also MistralForCausalLM (sliding window) and Qwen2ForCausalLM (q/k/v biases)."""

    def __init__(self, cfg):
        super().__init__()
        assert cfg.get("rope_scaling") is None, "rope_scaling is not implemented by this reference"
        if cfg["model_type"] == "qwen2":
            assert not cfg.get("use_sliding_window", False), "qwen2 use_sliding_window"
        self.cfg = cfg
        self.tied = bool(cfg.get("tie_word_embeddings", False))
        self.model = LlamaModel(cfg)
        if not self.tied:
            self.lm_head = linear(cfg["hidden_size"], cfg["vocab_size"], False)

    def forward(self, ids, mask):
        cfg = self.cfg
        window = cfg.get("sliding_window", 4096) if cfg["model_type"] == "mistral" else None
        pos, allowed = positions_and_masks(mask, window)
        cos, sin = rotary_cos_sin(pos, self.model.layers[0].self_attn.head_dim, cfg.get("rope_theta", 10000.0))
        x = self.model.embed_tokens(ids)
        for layer in self.model.layers:
            x = layer(x, cos, sin, allowed)
        x = self.model.norm(x)
        head = self.model.embed_tokens.weight if self.tied else self.lm_head.weight
        return torch.matmul(x, head.T)


# ---------------------------------------------------------------- Gemma-3 text


class Gemma3Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, eps = cfg["hidden_size"], cfg.get("rms_norm_eps", 1e-6)
        self.heads, self.kv_heads, self.head_dim = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
        bias = bool(cfg.get("attention_bias", False))
        self.q_proj = linear(d, self.heads * self.head_dim, bias)
        self.k_proj = linear(d, self.kv_heads * self.head_dim, bias)
        self.v_proj = linear(d, self.kv_heads * self.head_dim, bias)
        self.o_proj = linear(self.heads * self.head_dim, d, bias)
        self.q_norm = RMSNorm(self.head_dim, eps, one_plus=True)
        self.k_norm = RMSNorm(self.head_dim, eps, one_plus=True)
        self.scale = cfg["query_pre_attn_scalar"] ** -0.5

    def forward(self, x, cos, sin, allowed):
        b, T, _ = x.shape
        q = self.q_proj(x).view(b, T, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, T, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, T, self.kv_heads, self.head_dim).transpose(1, 2)
        q, k = self.q_norm(q), self.k_norm(k)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        rep = self.heads // self.kv_heads
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        o = eager_attention(q, k, v, allowed, self.scale)
        return self.o_proj(o.transpose(1, 2).reshape(b, T, self.heads * self.head_dim))


class Gemma3DecoderLayer(nn.Module):
    def __init__(self, cfg, sliding):
        super().__init__()
        d, eps = cfg["hidden_size"], cfg.get("rms_norm_eps", 1e-6)
        assert cfg.get("hidden_activation", "gelu_pytorch_tanh") == "gelu_pytorch_tanh"
        self.sliding = sliding
        self.input_layernorm = RMSNorm(d, eps, one_plus=True)
        self.self_attn = Gemma3Attention(cfg)
        self.post_attention_layernorm = RMSNorm(d, eps, one_plus=True)
        self.pre_feedforward_layernorm = RMSNorm(d, eps, one_plus=True)
        self.mlp = GatedMLP(d, cfg["intermediate_size"], gelu_tanh)
        self.post_feedforward_layernorm = RMSNorm(d, eps, one_plus=True)

    def forward(self, x, cos, sin, allowed):
        x = x + self.post_attention_layernorm(self.self_attn(self.input_layernorm(x), cos, sin, allowed))
        return x + self.post_feedforward_layernorm(self.mlp(self.pre_feedforward_layernorm(x)))


class Gemma3TextModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        L = cfg["num_hidden_layers"]
        if cfg.get("layer_types") is not None:
            sliding = [t == "sliding_attention" for t in cfg["layer_types"]]
        else:
            pattern = cfg.get("sliding_window_pattern", 6)
            sliding = [bool((i + 1) % pattern) for i in range(L)]
        assert len(sliding) == L
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"], dtype=DT)
        # Gemma3TextScaledWordEmbedding: a float32 buffer, cast to the weight dtype in forward.
        self.embed_scale = torch.tensor(cfg["hidden_size"] ** 0.5, dtype=torch.float32).to(DT)
        self.layers = nn.ModuleList(Gemma3DecoderLayer(cfg, sliding[i]) for i in range(L))
        self.norm = RMSNorm(cfg["hidden_size"], cfg.get("rms_norm_eps", 1e-6), one_plus=True)


class Gemma3ForCausalLM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        for key in ("final_logit_softcapping", "attn_logit_softcapping", "rope_scaling"):
            assert cfg.get(key) is None, f"{key} is not implemented by this reference"
        assert cfg.get("tie_word_embeddings", True), "gemma3_text with an untied head"
        self.cfg = cfg
        self.tied = True
        self.model = Gemma3TextModel(cfg)

    def forward(self, ids, mask):
        cfg = self.cfg
        pos, full = positions_and_masks(mask)
        _, local = positions_and_masks(mask, cfg["sliding_window"])
        dh = cfg["head_dim"]
        cs_global = rotary_cos_sin(pos, dh, cfg.get("rope_theta", 1000000.0))
        cs_local = rotary_cos_sin(pos, dh, cfg.get("rope_local_base_freq", 10000.0))
        x = self.model.embed_tokens(ids) * self.model.embed_scale
        for layer in self.model.layers:
            cos, sin = cs_local if layer.sliding else cs_global
            x = layer(x, cos, sin, local if layer.sliding else full)
        x = self.model.norm(x)
        return torch.matmul(x, self.model.embed_tokens.weight.T)


ARCHITECTURES = {
    "gpt2": GPT2LMHeadModel,
    "llama": LlamaForCausalLM,
    "mistral": LlamaForCausalLM,
    "qwen2": LlamaForCausalLM,
    "gemma3_text": Gemma3ForCausalLM,
}


def build_model(cfg, state):
    model = ARCHITECTURES[cfg["model_type"]](cfg)
    model.load_state_dict(state, strict=True)  # every tensor used, none missing
    return model.eval()


def case_logits(models_dir, case):
    """float64 logits [b, T, vocab] (NumPy) of one model-cases.json case."""
    state = load_safetensors(os.path.join(models_dir, case["name"], "model.safetensors"))
    model = build_model(case["config"], state)
    with torch.no_grad():
        out = model(torch.tensor(case["input_ids"], dtype=torch.long), torch.tensor(case["attention_mask"]))
    return out.numpy()


def max_abs_diff_real(logits, golden_rows, mask):
    """max |Δ| over the real (mask = 1) positions; golden_rows[r][t] is a list or None."""
    worst, checked = 0.0, 0
    for r, row in enumerate(golden_rows):
        for t, want in enumerate(row):
            if not mask[r][t]:
                continue
            if want is None:
                raise SystemExit(f"row {r} position {t}: real position without a golden logit")
            worst = max(worst, float(np.abs(logits[r, t] - np.asarray(want, dtype=np.float64)).max()))
            checked += len(want)
    return worst, checked


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    tol = 1e-9
    if "--tol" in argv:
        tol = float(argv[argv.index("--tol") + 1])
        args.remove(argv[argv.index("--tol") + 1])
    if not args:
        sys.stderr.write("usage: torch-forward.py <models-dir> [model-logits.json] [--tol 1e-9]\n")
        return 2
    golden_path = args[1] if len(args) > 1 else DEFAULT_GOLDEN
    golden = json.load(open(golden_path))
    failed = []
    sys.stderr.write(f"torch {torch.__version__}, float64, against {golden_path}\n")
    for c in golden["cases"]:
        logits = case_logits(args[0], c)
        worst, checked = max_abs_diff_real(logits, c["logits"], c["attention_mask"])
        sys.stderr.write(f"  {c['name']:<26} max |Δ| {worst:.3e} over {checked} logits\n")
        if not math.isfinite(worst) or worst > tol:
            failed.append(c["name"])
    if failed:
        sys.stderr.write(f"torch-forward: {', '.join(failed)} differ from the goldens by more than {tol:g}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
