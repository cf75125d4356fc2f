#!/usr/bin/python3
"""PyTorch reference for `wraplab bench`: the same model, batch and optimizer as lib/engine, timed.

Architecture (lib/engine/model.ts): pre-LN GPT blocks with separate Q/K/V projections, GELU (tanh
approximation), learned positions, causal attention with an additive -1e9 mask, final layernorm,
untied unembedding with bias. Row-vector convention y = x @ W + b with W stored [in, out], exactly as
wraplab stores it, so the parameters keep wraplab's names and shapes (torch's nn.Linear.weight would be W.T).
Loss: sum_t w_t CE_t / sum_t w_t. Optimizer: AdamW with decay on the matrices of linear maps only,
global grad-norm clip, as lib/engine/optim.ts.

Input: a safetensors file the bench writes: every parameter by name, plus `batch.tokens`, `batch.targets`
(I32 [B, T]) and `batch.weights` (F32 [B, T]); hyper-parameters in its metadata. Output: a few lines
of progress, then one JSON object on the last line.

Threads: `torch.set_num_threads` does not bind Debian's OpenBLAS (it keeps the pool its environment sized), so
a like-for-like run sets OPENBLAS_NUM_THREADS (and OMP_NUM_THREADS) before torch loads: `wraplab bench` starts
one process per thread count with both set. The JSON reports the threads and kernel family (OPENBLAS_CORETYPE
picks it) that the loaded OpenBLAS says it uses.

Usage: /usr/bin/python3 bench/torch_reference.py FILE.safetensors [--steps N] [--warmup N] [--threads 1,2]
"""
import argparse
import ctypes
import json
import math
import re
import statistics
import struct
import time

import torch
import torch.nn.functional as F


def read_safetensors(path):
    """A minimal safetensors reader (F32 / I32 only): 8-byte LE header size, JSON header, raw bytes."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    body = memoryview(raw)[8 + n :]
    dtypes = {"F32": torch.float32, "I32": torch.int32}
    tensors = {}
    for name, info in header.items():
        start, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(body[start:end]), dtype=dtypes[info["dtype"]])
        tensors[name] = t.reshape(info["shape"]).clone()
    return tensors, meta


class Reference:
    """wraplab's Transformer as plain tensor code over a dict of named parameters."""

    def __init__(self, params, meta):
        self.p = params
        self.n_layers = int(meta["nLayers"])
        self.n_heads = int(meta["nHeads"])
        self.d_head = int(meta["dHead"])

    def norm(self, x, prefix):
        d = x.shape[-1]
        return F.layer_norm(x, (d,), self.p[prefix + ".w"], self.p[prefix + ".b"], eps=1e-5)

    def linear(self, x, w, b):
        return x @ self.p[w] + self.p[b]

    def forward(self, tokens):
        p = self.p
        B, T = tokens.shape
        H, dh = self.n_heads, self.d_head
        x = p["embed.W_E"][tokens.long()] + p["pos_embed.W_pos"][:T]
        causal = torch.triu(torch.full((T, T), -1e9), diagonal=1)
        for i in range(self.n_layers):
            pre = f"blocks.{i}"
            h = self.norm(x, pre + ".ln1")
            q, k, v = (
                self.linear(h, f"{pre}.attn.W_{m}", f"{pre}.attn.b_{m}").view(B, T, H, dh).transpose(1, 2)
                for m in "QKV"
            )
            scores = (q @ k.transpose(-1, -2)) * (1 / math.sqrt(dh)) + causal
            z = (scores.softmax(-1) @ v).transpose(1, 2).reshape(B, T, H * dh)
            x = x + self.linear(z, pre + ".attn.W_O", pre + ".attn.b_O")
            h2 = self.norm(x, pre + ".ln2")
            hidden = F.gelu(self.linear(h2, pre + ".mlp.W_in", pre + ".mlp.b_in"), approximate="tanh")
            x = x + self.linear(hidden, pre + ".mlp.W_out", pre + ".mlp.b_out")
        x = self.norm(x, "ln_final")
        return self.linear(x, "unembed.W_U", "unembed.b_U")

    def loss(self, tokens, targets, weights):
        logits = self.forward(tokens)
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1).long(), reduction="none")
        w = weights.reshape(-1)
        return (ce * w).sum() / w.sum().clamp_min(1e-9)


def blas_info():
    """Threads and kernel family of the OpenBLAS this process loaded (via torch), or None without one."""
    maps = open("/proc/self/maps").read()
    libs = sorted(set(re.findall(r"(/\S*openblas\S*\.so[.0-9]*)", maps)))
    if not libs:
        return None
    lib = ctypes.CDLL(libs[0])
    lib.openblas_get_corename.restype = ctypes.c_char_p
    return {"library": libs[0], "core": lib.openblas_get_corename().decode().strip(), "threads": lib.openblas_get_num_threads()}


def run(tensors, meta, steps, warmup, threads):
    torch.set_num_threads(threads)
    batch = {k[len("batch.") :]: v for k, v in tensors.items() if k.startswith("batch.")}
    params = {k: v.clone().requires_grad_(True) for k, v in tensors.items() if not k.startswith("batch.")}
    decay_names = set(json.loads(meta["decay"]))
    groups = [
        {"params": [v for k, v in params.items() if k in decay_names], "weight_decay": float(meta["weightDecay"])},
        {"params": [v for k, v in params.items() if k not in decay_names], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(
        groups, lr=float(meta["lr"]), betas=(float(meta["beta1"]), float(meta["beta2"])), eps=float(meta["eps"])
    )
    model = Reference(params, meta)
    clip = float(meta["clipNorm"])
    losses, times = [], []
    for step in range(warmup + steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = model.loss(batch["tokens"], batch["targets"], batch["weights"])
        loss.backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(list(params.values()), clip)
        opt.step()
        losses.append(loss.item())
        if step >= warmup:
            times.append((time.perf_counter() - t0) * 1000)
    return losses, times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    args = ap.parse_args()
    tensors, meta = read_safetensors(args.file)
    results = []
    for n in [int(s) for s in args.threads.split(",") if s]:
        losses, times = run(tensors, meta, args.steps, args.warmup, n)
        med = statistics.median(times)
        print(f"torch {torch.__version__} threads={n}: {med:.1f} ms/step (median of {len(times)})", flush=True)
        results.append({"threads": n, "ms_per_step": med, "times_ms": times, "losses": losses, "blas": blas_info()})
    best = min(results, key=lambda r: r["ms_per_step"])
    print(json.dumps({"torch_version": torch.__version__, "best": best, "runs": results}))


if __name__ == "__main__":
    main()
