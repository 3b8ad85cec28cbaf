#!/usr/bin/env python3
"""PyTorch reference for benchmark (a) of model.bench.ts (issue 21): the same GPT-2 (d_model 128,
4 heads, 2 layers, vocab 512, context 256, gelu_new, dropout 0.1, tied head), batch 8 x sequence 64,
on one CPU thread; the same steps: LoRA r=8 (scale 16/8, dropout 0.05) on attn.c_attn with Adam
(lr 1e-3) and the base frozen, the same with dropout off, full training with Adam (lr 1e-4), and
forward + loss without gradients. Prints one JSON object: per step kind, mean and fastest ms over
STEPS steps after 3 warm-up steps.

Run by model.bench.ts with Debian's /usr/bin/python3 (python3-torch); standalone:
  /usr/bin/python3 packages/model/bench/torch_train_ref.py [STEPS]
"""
import json
import math
import sys
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(1)
torch.manual_seed(0)
STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 20
B, T, D, H, L, V, CTX = 8, 64, 128, 4, 2, 512, 256
R, ALPHA, LORA_DROP, PDROP = 8, 16, 0.05, 0.1


class Lora(torch.nn.Module):
    def __init__(self, fin, fout):
        super().__init__()
        self.a = torch.nn.Parameter(torch.randn(R, fin) * 0.02)
        self.b = torch.nn.Parameter(torch.randn(fout, R) * 0.02)

    def forward(self, x):
        return F.dropout(x, LORA_DROP, self.training) @ self.a.t() @ self.b.t() * (ALPHA / R)


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = torch.nn.LayerNorm(D)
        self.c_attn = torch.nn.Linear(D, 3 * D)  # GPT-2's Conv1D is a Linear with W stored [in, out]
        self.c_proj = torch.nn.Linear(D, D)
        self.ln2 = torch.nn.LayerNorm(D)
        self.c_fc = torch.nn.Linear(D, 4 * D)
        self.mlp_proj = torch.nn.Linear(4 * D, D)
        self.lora = None
        self.register_buffer("mask", torch.tril(torch.ones(T, T, dtype=torch.bool)))

    def forward(self, x):
        h = self.ln1(x)
        qkv = self.c_attn(h)
        if self.lora is not None:
            qkv = qkv + self.lora(h)
        q, k, v = qkv.split(D, dim=2)
        q, k, v = (z.view(B, T, H, D // H).transpose(1, 2) for z in (q, k, v))
        s = (q @ k.transpose(-2, -1)) / math.sqrt(D // H)
        s = s.masked_fill(~self.mask, float("-inf"))
        p = F.dropout(F.softmax(s, dim=-1), PDROP, self.training)
        a = (p @ v).transpose(1, 2).reshape(B, T, D)
        x = x + F.dropout(self.c_proj(a), PDROP, self.training)
        m = self.mlp_proj(F.gelu(self.c_fc(self.ln2(x)), approximate="tanh"))
        return x + F.dropout(m, PDROP, self.training)


class Gpt2(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = torch.nn.Embedding(V, D)
        self.wpe = torch.nn.Embedding(CTX, D)
        self.blocks = torch.nn.ModuleList([Block() for _ in range(L)])
        self.ln_f = torch.nn.LayerNorm(D)

    def forward(self, ids):
        x = F.dropout(self.wte(ids) + self.wpe(torch.arange(T)), PDROP, self.training)
        for blk in self.blocks:
            x = blk(x)
        return self.ln_f(x) @ self.wte.weight.t()


model = Gpt2()
for p in model.parameters():
    torch.nn.init.normal_(p, 0, 0.02)
ids = torch.randint(0, V, (B, T + 1))
x, y = ids[:, :T], ids[:, 1:]


def loss_fn():
    return F.cross_entropy(model(x).reshape(-1, V), y.reshape(-1))


def time_steps(step):
    for _ in range(3):
        step()
    times = []
    for _ in range(STEPS):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
    return {"mean_ms": sum(times) / len(times), "best_ms": min(times)}


def train_step(opt, params):
    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn().backward()
        opt.step()

    return step


out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "tokens_per_step": B * T}
for blk in model.blocks:
    blk.lora = Lora(D, 3 * D)
for p in model.parameters():
    p.requires_grad_(False)
lora_params = [p for blk in model.blocks for p in blk.lora.parameters()]
for p in lora_params:
    p.requires_grad_(True)
opt = torch.optim.Adam(lora_params, lr=1e-3)
model.train()
out["lora"] = time_steps(train_step(opt, lora_params))
model.eval()  # dropout off, gradients still on
out["lora_nodrop"] = time_steps(train_step(opt, lora_params))
for blk in model.blocks:
    blk.lora = None
params = [p for p in model.parameters()]
for p in params:
    p.requires_grad_(True)
opt = torch.optim.Adam(params, lr=1e-4)
model.train()
out["full"] = time_steps(train_step(opt, params))
model.eval()
with torch.no_grad():
    out["forward"] = time_steps(loss_fn)


def blas_loaded():
    """The BLAS library this process really runs (Debian switches libblas.so.3 by alternatives: the
    reference netlib BLAS is several times slower than OpenBLAS and would make the ratio meaningless)."""
    libs = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            if "blas" in path or "mkl" in path or "blis" in path:
                libs.add(path)
    return sorted(libs)


out["blas"] = blas_loaded()
print(json.dumps(out))
