#!/usr/bin/python3
"""Independent PyTorch reference fixtures for HuggingFace checkpoint parity (issue 17).

Run:  /usr/bin/python3 scripts/pretrained-fixtures.py   (needs torch + numpy; no transformers,
no safetensors package, nothing from the wraplab repo).

For each family (GPT-2, GPT-Neo, GPT-NeoX, Llama) this builds a tiny random model whose tensors carry
the exact HuggingFace names, shapes and layouts, writes it as safetensors (own writer) next to a
config.json of that family, and runs a forward pass written here from the semantics of the
transformers modeling_*.py files. The logits go into reference.json, which wraplab's TS tests compare
against (CI has no PyTorch).

Numerics: weights are drawn in float32, rounded to the storage dtype (F32/F16/BF16), and the forward
pass runs in float64 on those stored values upcast; logits are then rounded to float32 and written as
the shortest decimal that round-trips float32. So a float32 implementation should match to ~1e-5.

Determinism: one fixed seed per fixture, single-threaded torch, no timestamps; rerunning gives
byte-identical files (checked by `--check`, which regenerates into a temp dir and compares).

Self-checks (the script fails loudly if any does not hold):
  * every file is re-read by an independent reader (header bounds, offsets tiling the data exactly),
    tensors compare bit-equal to what was written, and the forward pass from the re-read tensors
    reproduces the reference logits exactly;
  * sensitivity: plausible loader mistakes (wrong local window, scaling, qkv order, rotary pairing,
    rotary fraction, residual form, GELU variant, GQA grouping, norm eps) move the logits by more than
    the 1e-4 tolerance, so the fixtures can catch them. Deltas are printed.
"""

import hashlib
import json
import math
import os
import shutil
import struct
import sys
import tempfile

import numpy as np
import torch

torch.set_num_threads(1)  # float64 reductions in a fixed order: byte-identical reruns
assert sys.byteorder == "little"  # tobytes() below relies on it (safetensors is little-endian)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "pretrained")
T = 20  # sequence length of both batch rows
TOL = 1e-4  # the tolerance the TS parity tests use; sensitivity deltas must exceed it

# ----------------------------------------------------------------------------------------------
# safetensors: writer and an independent reader
# ----------------------------------------------------------------------------------------------

# dtype -> (torch dtype, bytes per element, rank). Rank mimics the safetensors library, which
# orders data by dtype (larger/wider types first) then name, so every tensor starts aligned.
DTYPES = {
    "F32": (torch.float32, 4, 3),
    "BF16": (torch.bfloat16, 2, 2),
    "F16": (torch.float16, 2, 1),
    "BOOL": (torch.bool, 1, 0),
}


def to_bytes(t, dtype):
    tdt, _, _ = DTYPES[dtype]
    t = t.detach().to(tdt).contiguous()
    if dtype == "BF16":
        return t.view(torch.int16).numpy().tobytes()  # numpy has no bfloat16: move the bits
    if dtype == "BOOL":
        return t.to(torch.uint8).numpy().tobytes()
    return t.numpy().tobytes()


def write_safetensors(path, tensors):
    """tensors: dict name -> (torch tensor already in its storage dtype, dtype string)."""
    names = sorted(tensors, key=lambda n: (-DTYPES[tensors[n][1]][2], n))
    header = {"__metadata__": {"format": "pt"}}
    blobs = []
    off = 0
    for n in names:
        t, dt = tensors[n]
        b = to_bytes(t, dt)
        assert len(b) == t.numel() * DTYPES[dt][1]
        header[n] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)  # pad so the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    return off  # bytes of tensor data (for the shard index's total_size)


def read_safetensors(path):
    """Independent of the writer: trusts nothing in the header. Returns name -> (tensor, dtype)."""
    with open(path, "rb") as f:
        raw = f.read()
    assert len(raw) >= 8, path
    (hlen,) = struct.unpack("<Q", raw[:8])
    assert 0 < hlen <= len(raw) - 8 and hlen < 1 << 24, (path, hlen)
    header = json.loads(raw[8 : 8 + hlen].decode("utf-8"))
    data = raw[8 + hlen :]
    meta = header.pop("__metadata__", None)
    assert meta is None or all(isinstance(v, str) for v in meta.values())
    spans = []
    out = {}
    for name, e in header.items():
        dt = e["dtype"]
        assert dt in DTYPES, (name, dt)
        _, size, _ = DTYPES[dt]
        s, t_end = e["data_offsets"]
        n = 1
        for d in e["shape"]:
            assert isinstance(d, int) and d >= 0
            n *= d
        assert 0 <= s <= t_end <= len(data) and t_end - s == n * size, (name, e)
        spans.append((s, t_end))
        buf = data[s:t_end]
        if dt == "F32":
            arr = torch.from_numpy(np.frombuffer(buf, dtype="<f4").copy())
        elif dt == "F16":
            arr = torch.from_numpy(np.frombuffer(buf, dtype="<f2").copy())
        elif dt == "BF16":
            arr = torch.from_numpy(np.frombuffer(buf, dtype="<i2").copy()).view(torch.bfloat16)
        else:
            u = np.frombuffer(buf, dtype=np.uint8)
            assert np.all(u <= 1), name  # a BOOL byte other than 0/1 means a broken writer
            arr = torch.from_numpy(u.copy()).to(torch.bool)
        out[name] = (arr.reshape(e["shape"]), dt)
    # the ranges must tile the data exactly: no gaps, no overlaps, nothing trailing
    spans.sort()
    pos = 0
    for s, e in spans:
        assert s == pos, (path, s, pos)
        pos = e
    assert pos == len(data), (path, pos, len(data))
    return out


# ----------------------------------------------------------------------------------------------
# shared math (float64)
# ----------------------------------------------------------------------------------------------


def gelu_new(x):  # HF "gelu_new": tanh approximation
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


def gelu_exact(x):  # HF "gelu": erf form
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = (x - mu).pow(2).mean(-1, keepdim=True)  # population variance, as torch LayerNorm
    return (x - mu) / torch.sqrt(var + eps) * w + b


def rms_norm(x, w, eps):
    return x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


def rope(x, base, interleaved=False):
    """x [B, H, T, dim]. HF half-split: dim i pairs with i + dim/2, frequency index i mod dim/2.
    interleaved=True is the WRONG (GPT-J/Meta) pairing, used only for a sensitivity check."""
    dim = x.shape[-1]
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    inv_freq = inv_freq.to(x.dtype)  # float32 only in the float32 conditioning check
    pos = torch.arange(x.shape[-2], dtype=x.dtype)
    freqs = torch.outer(pos, inv_freq)  # [T, dim/2]
    if interleaved:
        cos = torch.cos(freqs).repeat_interleave(2, -1)
        sin = torch.sin(freqs).repeat_interleave(2, -1)
        x1, x2 = x[..., 0::2], x[..., 1::2]
        rot = torch.stack([-x2, x1], dim=-1).reshape(x.shape)
        return x * cos + rot * sin
    emb = torch.cat([freqs, freqs], dim=-1)
    return x * torch.cos(emb) + rotate_half(x) * torch.sin(emb)


def attend(q, k, v, scale, window=None):
    """q,k,v [B, H, T, dh]. Causal; with window w a query at i sees keys j with i-w < j <= i
    (GPT-Neo local: causal mask XOR tril(causal, -w))."""
    Tq = q.shape[-2]
    s = (q @ k.transpose(-1, -2)) * scale
    i = torch.arange(Tq).unsqueeze(1)
    j = torch.arange(Tq).unsqueeze(0)
    allowed = j <= i
    if window is not None:
        allowed = allowed & (j > i - window)
    s = s.masked_fill(~allowed, float("-inf"))
    return torch.softmax(s, dim=-1) @ v


def heads(x, H):  # [B, T, H*dh] -> [B, H, T, dh]; head h owns columns h*dh .. (h+1)*dh-1
    B, Tn, D = x.shape
    return x.reshape(B, Tn, H, D // H).transpose(1, 2)


def merge(x):  # [B, H, T, dh] -> [B, T, H*dh]
    B, H, Tn, dh = x.shape
    return x.transpose(1, 2).reshape(B, Tn, H * dh)


# ----------------------------------------------------------------------------------------------
# family forward passes. W(name) returns the stored tensor upcast to float64.
# `v` holds deliberate deviations, used only by the sensitivity checks.
# ----------------------------------------------------------------------------------------------


def fwd_gpt2(W, cfg, ids, prefix, v={}):
    assert cfg["activation_function"] == "gelu_new"
    assert cfg["scale_attn_weights"] and not cfg["scale_attn_by_inverse_layer_idx"]
    d, H = cfg["n_embd"], cfg["n_head"]
    eps = cfg["layer_norm_epsilon"]
    p = prefix
    x = W(p + "wte.weight")[ids] + W(p + "wpe.weight")[: ids.shape[1]]
    act = gelu_exact if v.get("gelu_exact") else gelu_new
    for L in range(cfg["n_layer"]):
        b = f"{p}h.{L}."
        h = layer_norm(x, W(b + "ln_1.weight"), W(b + "ln_1.bias"), eps)
        qkv = h @ W(b + "attn.c_attn.weight") + W(b + "attn.c_attn.bias")  # Conv1D: [in, out]
        q, k, vv = qkv[..., :d], qkv[..., d : 2 * d], qkv[..., 2 * d :]
        if v.get("kqv"):
            q, k = k, q
        scale = 1.0 if v.get("unscaled") else 1.0 / math.sqrt(d // H)
        a = merge(attend(heads(q, H), heads(k, H), heads(vv, H), scale))
        x = x + a @ W(b + "attn.c_proj.weight") + W(b + "attn.c_proj.bias")
        h = layer_norm(x, W(b + "ln_2.weight"), W(b + "ln_2.bias"), eps)
        m = act(h @ W(b + "mlp.c_fc.weight") + W(b + "mlp.c_fc.bias"))
        x = x + m @ W(b + "mlp.c_proj.weight") + W(b + "mlp.c_proj.bias")
    x = layer_norm(x, W(p + "ln_f.weight"), W(p + "ln_f.bias"), eps)
    head = W("lm_head.weight") if v.get("use_lm_head") else W(p + "wte.weight")
    return x @ head.T


def neo_layers(cfg):
    out = []
    for pattern, reps in cfg["attention_types"]:
        out += pattern * reps
    assert out == cfg["attention_layers"] and len(out) == cfg["num_layers"]
    return out


def fwd_gpt_neo(W, cfg, ids, v={}):
    assert cfg["activation_function"] == "gelu_new"
    d, H = cfg["hidden_size"], cfg["num_heads"]
    eps = cfg["layer_norm_epsilon"]
    window = v.get("window", cfg["window_size"])
    x = W("transformer.wte.weight")[ids] + W("transformer.wpe.weight")[: ids.shape[1]]
    for L, kind in enumerate(neo_layers(cfg)):
        b = f"transformer.h.{L}."
        a_ = b + "attn.attention."
        h = layer_norm(x, W(b + "ln_1.weight"), W(b + "ln_1.bias"), eps)
        q = h @ W(a_ + "q_proj.weight").T  # nn.Linear: [out, in]
        k = h @ W(a_ + "k_proj.weight").T
        vv = h @ W(a_ + "v_proj.weight").T
        scale = 1.0 / math.sqrt(d // H) if v.get("scaled") else 1.0  # GPT-Neo does NOT scale
        a = attend(heads(q, H), heads(k, H), heads(vv, H), scale, window if kind == "local" else None)
        x = x + merge(a) @ W(a_ + "out_proj.weight").T + W(a_ + "out_proj.bias")
        h = layer_norm(x, W(b + "ln_2.weight"), W(b + "ln_2.bias"), eps)
        m = gelu_new(h @ W(b + "mlp.c_fc.weight").T + W(b + "mlp.c_fc.bias"))
        x = x + m @ W(b + "mlp.c_proj.weight").T + W(b + "mlp.c_proj.bias")
    x = layer_norm(x, W("transformer.ln_f.weight"), W("transformer.ln_f.bias"), eps)
    return x @ W("transformer.wte.weight").T


def fwd_gpt_neox(W, cfg, ids, v={}):
    assert cfg["hidden_act"] == "gelu" and cfg["use_parallel_residual"]
    d, H = cfg["hidden_size"], cfg["num_attention_heads"]
    dh = d // H
    eps = cfg["layer_norm_eps"]
    rot = int(dh * v.get("rotary_pct", cfg["rotary_pct"]))
    act = gelu_new if v.get("gelu_tanh") else gelu_exact
    x = W("gpt_neox.embed_in.weight")[ids]
    B, Tn = ids.shape
    for L in range(cfg["num_hidden_layers"]):
        b = f"gpt_neox.layers.{L}."
        h = layer_norm(x, W(b + "input_layernorm.weight"), W(b + "input_layernorm.bias"), eps)
        qkv = h @ W(b + "attention.query_key_value.weight").T + W(b + "attention.query_key_value.bias")
        if v.get("qkv_blocked"):  # WRONG layout [all q | all k | all v], for a sensitivity check
            q, k, vv = (heads(t, H) for t in qkv.split(d, dim=-1))
        else:  # HF: output axis is (head, {q,k,v}, d_head)
            qkv = qkv.reshape(B, Tn, H, 3 * dh).transpose(1, 2)
            q, k, vv = qkv[..., :dh], qkv[..., dh : 2 * dh], qkv[..., 2 * dh :]
        il = v.get("interleaved", False)
        q = torch.cat([rope(q[..., :rot], cfg["rotary_emb_base"], il), q[..., rot:]], dim=-1)
        k = torch.cat([rope(k[..., :rot], cfg["rotary_emb_base"], il), k[..., rot:]], dim=-1)
        a = merge(attend(q, k, vv, 1.0 / math.sqrt(dh)))
        attn_out = a @ W(b + "attention.dense.weight").T + W(b + "attention.dense.bias")
        if v.get("serial"):  # WRONG for Pythia: x + attn, then mlp on ln2 of that
            x = x + attn_out
            h2 = layer_norm(x, W(b + "post_attention_layernorm.weight"), W(b + "post_attention_layernorm.bias"), eps)
        else:  # parallel residual: both branches read the same x
            h2 = layer_norm(x, W(b + "post_attention_layernorm.weight"), W(b + "post_attention_layernorm.bias"), eps)
        m = act(h2 @ W(b + "mlp.dense_h_to_4h.weight").T + W(b + "mlp.dense_h_to_4h.bias"))
        mlp_out = m @ W(b + "mlp.dense_4h_to_h.weight").T + W(b + "mlp.dense_4h_to_h.bias")
        x = x + mlp_out if v.get("serial") else x + attn_out + mlp_out
    x = layer_norm(x, W("gpt_neox.final_layer_norm.weight"), W("gpt_neox.final_layer_norm.bias"), eps)
    return x @ W("embed_out.weight").T


def fwd_llama(W, cfg, ids, v={}):
    assert cfg["hidden_act"] == "silu" and not cfg["attention_bias"] and not cfg["mlp_bias"]
    assert cfg["rope_scaling"] is None and cfg["pretraining_tp"] == 1
    d, H, Hkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    dh = d // H
    eps = v.get("eps", cfg["rms_norm_eps"])
    theta = v.get("theta", cfg["rope_theta"])
    il = v.get("interleaved", False)
    x = W("model.embed_tokens.weight")[ids]
    for L in range(cfg["num_hidden_layers"]):
        b = f"model.layers.{L}."
        h = rms_norm(x, W(b + "input_layernorm.weight"), eps)
        q = heads(h @ W(b + "self_attn.q_proj.weight").T, H)
        k = heads(h @ W(b + "self_attn.k_proj.weight").T, Hkv)
        vv = heads(h @ W(b + "self_attn.v_proj.weight").T, Hkv)
        q, k = rope(q, theta, il), rope(k, theta, il)
        # GQA: query head h reads KV head h // (H/Hkv) (HF repeat_kv). The "gqa_mod" deviation
        # (h % Hkv) is a plausible wrong tiling, for the sensitivity check.
        idx = torch.arange(H) % Hkv if v.get("gqa_mod") else torch.arange(H) // (H // Hkv)
        a = merge(attend(q, k[:, idx], vv[:, idx], 1.0 / math.sqrt(dh)))
        x = x + a @ W(b + "self_attn.o_proj.weight").T
        h = rms_norm(x, W(b + "post_attention_layernorm.weight"), eps)
        g = h @ W(b + "mlp.gate_proj.weight").T
        u = h @ W(b + "mlp.up_proj.weight").T
        x = x + (torch.nn.functional.silu(g) * u) @ W(b + "mlp.down_proj.weight").T
    x = rms_norm(x, W("model.norm.weight"), eps)
    head = W("model.embed_tokens.weight") if cfg["tie_word_embeddings"] else W("lm_head.weight")
    return x @ head.T


# ----------------------------------------------------------------------------------------------
# random weights in HF layout
# ----------------------------------------------------------------------------------------------


class Params:
    def __init__(self, seed, dtype):
        self.g = torch.Generator().manual_seed(seed)
        self.dtype = dtype
        self.t = {}  # name -> (tensor in storage dtype, dtype)

    def randn(self, *shape, std):
        return torch.randn(*shape, generator=self.g, dtype=torch.float32) * std

    def add(self, name, value, dtype=None):
        dtype = dtype or self.dtype
        assert name not in self.t
        self.t[name] = (value.to(DTYPES[dtype][0]), dtype)

    def w(self, name, *shape, std=0.2):
        self.add(name, self.randn(*shape, std=std))

    def norm(self, name, n, bias=True):  # around 1 / 0 but random, so a loader ignoring them fails
        self.add(name + ".weight", 1.0 + self.randn(n, std=0.3))
        if bias:
            self.add(name + ".bias", self.randn(n, std=0.2))

    def upcast(self):
        return {n: t.to(torch.float64) for n, (t, dt) in self.t.items() if dt != "BOOL"}


def causal_bool(n):
    return torch.tril(torch.ones(n, n, dtype=torch.bool)).view(1, 1, n, n)


def make_ids(seed, V, small_tokens=()):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, V, (2, T), generator=g)
    for i, tok in enumerate(small_tokens):  # make sure rows contain these tokens (llama eps check)
        ids[i % 2, 3 + 4 * (i // 2)] = tok
    assert not torch.equal(ids[0], ids[1])
    return ids


# ----------------------------------------------------------------------------------------------
# fixtures
# ----------------------------------------------------------------------------------------------


def gpt2_config(V, n_pos, d, H, n_layer, n_inner):
    return {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1,
        "bos_token_id": V - 1,
        "embd_pdrop": 0.1,
        "eos_token_id": V - 1,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05,
        "model_type": "gpt2",
        "n_ctx": n_pos,
        "n_embd": d,
        "n_head": H,
        "n_inner": n_inner,
        "n_layer": n_layer,
        "n_positions": n_pos,
        "reorder_and_upcast_attn": False,
        "resid_pdrop": 0.1,
        "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "task_specific_params": {"text-generation": {"do_sample": True, "max_length": 50}},
        "use_cache": True,
        "vocab_size": V,
    }


def build_gpt2(seed, prefixed):
    V, n_pos, d, H, nL = 64, 32, 24, 3, 2
    n_inner = 64 if prefixed else None  # prefixed variant also exercises an explicit n_inner
    cfg = gpt2_config(V, n_pos, d, H, nL, n_inner)
    if prefixed:
        cfg["tie_word_embeddings"] = True
    dm = n_inner or 4 * d
    P = Params(seed, "F32")
    p = "transformer." if prefixed else ""
    P.w(p + "wte.weight", V, d, std=0.5)
    P.w(p + "wpe.weight", n_pos, d, std=0.3)
    for L in range(nL):
        b = f"{p}h.{L}."
        P.norm(b + "ln_1", d)
        P.w(b + "attn.c_attn.weight", d, 3 * d)  # Conv1D [in, out]
        P.w(b + "attn.c_attn.bias", 3 * d, std=0.1)
        P.w(b + "attn.c_proj.weight", d, d)
        P.w(b + "attn.c_proj.bias", d, std=0.1)
        P.norm(b + "ln_2", d)
        P.w(b + "mlp.c_fc.weight", d, dm)
        P.w(b + "mlp.c_fc.bias", dm, std=0.1)
        P.w(b + "mlp.c_proj.weight", dm, d)
        P.w(b + "mlp.c_proj.bias", d, std=0.1)
        if not prefixed:  # buffers the original gpt2 file carries; a loader must skip them
            P.add(b + "attn.bias", torch.tril(torch.ones(n_pos, n_pos)).view(1, 1, n_pos, n_pos))
            P.add(b + "attn.masked_bias", torch.tensor(-1e4))
    P.norm(p + "ln_f", d)
    if prefixed:  # explicit head equal to wte, as some fine-tunes save it
        P.add("lm_head.weight", P.t[p + "wte.weight"][0].clone())
    ids = make_ids(seed + 1, V)
    fwd = lambda W, c, i, v={}: fwd_gpt2(W, c, i, p, v)
    sens = [
        ("gelu exact-erf instead of gelu_new", {"gelu_exact": True}),
        ("c_attn split as k,q,v instead of q,k,v", {"kqv": True}),
        ("attention unscaled", {"unscaled": True}),
    ]
    if prefixed:
        sens.append(("head from lm_head.weight == wte (must be ~0)", {"use_lm_head": True, "_zero": True}))
    return cfg, P, ids, fwd, sens


def build_gpt_neo(seed):
    V, n_pos, d, H, nL, win = 64, 32, 24, 3, 2, 8
    cfg = {
        "activation_function": "gelu_new",
        "architectures": ["GPTNeoForCausalLM"],
        "attention_dropout": 0,
        "attention_layers": ["global", "local"],
        "attention_types": [[["global", "local"], 1]],
        "bos_token_id": V - 1,
        "embed_dropout": 0,
        "eos_token_id": V - 1,
        "gradient_checkpointing": False,
        "hidden_size": d,
        "initializer_range": 0.02,
        "intermediate_size": None,
        "layer_norm_epsilon": 1e-05,
        "max_position_embeddings": n_pos,
        "model_type": "gpt_neo",
        "num_heads": H,
        "num_layers": nL,
        "resid_dropout": 0,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "torch_dtype": "float32",
        "use_cache": True,
        "vocab_size": V,
        "window_size": win,
    }
    dm = 4 * d  # intermediate_size null -> 4 * hidden_size
    P = Params(seed, "F32")
    P.w("transformer.wte.weight", V, d, std=0.5)
    P.w("transformer.wpe.weight", n_pos, d, std=0.3)
    for L, kind in enumerate(neo_layers(cfg)):
        b = f"transformer.h.{L}."
        a_ = b + "attn.attention."
        P.norm(b + "ln_1", d)
        for n in ("q", "k", "v"):
            P.w(a_ + f"{n}_proj.weight", d, d, std=0.3)  # unscaled scores: keep them moderate
        P.w(a_ + "out_proj.weight", d, d)
        P.w(a_ + "out_proj.bias", d, std=0.1)
        P.norm(b + "ln_2", d)
        P.w(b + "mlp.c_fc.weight", dm, d)  # nn.Linear [out, in]
        P.w(b + "mlp.c_fc.bias", dm, std=0.1)
        P.w(b + "mlp.c_proj.weight", d, dm)
        P.w(b + "mlp.c_proj.bias", d, std=0.1)
        # buffers as real GPT-Neo files carry them: BOOL mask (band for local layers) + scalar
        m = causal_bool(n_pos)
        if kind == "local":
            m = torch.bitwise_xor(m, torch.tril(m, -win))
        P.add(a_ + "bias", m, "BOOL")
        P.add(a_ + "masked_bias", torch.tensor(-1e9))
    P.norm("transformer.ln_f", d)
    ids = make_ids(seed + 1, V)
    sens = [
        ("local window = infinity instead of 8", {"window": 10**9}),
        ("local window 7 (off by one)", {"window": win - 1}),
        ("local window 9 (off by one)", {"window": win + 1}),
        ("attention scaled by 1/sqrt(d_head)", {"scaled": True}),
    ]
    return cfg, P, ids, fwd_gpt_neo, sens


def build_gpt_neox(seed, dtype):
    V, n_pos, d, H, nL, dm = 64, 32, 32, 2, 2, 64
    cfg = {
        "architectures": ["GPTNeoXForCausalLM"],
        "attention_bias": True,
        "attention_dropout": 0.0,
        "bos_token_id": 0,
        "classifier_dropout": 0.1,
        "eos_token_id": 0,
        "hidden_act": "gelu",
        "hidden_dropout": 0.0,
        "hidden_size": d,
        "initializer_range": 0.02,
        "intermediate_size": dm,  # deliberately not 4*hidden: the loader must read it
        "layer_norm_eps": 1e-05,
        "max_position_embeddings": n_pos,
        "model_type": "gpt_neox",
        "num_attention_heads": H,
        "num_hidden_layers": nL,
        "rope_scaling": None,
        "rotary_emb_base": 10000,
        "rotary_pct": 0.25,
        "tie_word_embeddings": False,
        "torch_dtype": "float16" if dtype == "F16" else "float32",
        "use_cache": True,
        "use_parallel_residual": True,
        "vocab_size": V,
    }
    dh = d // H
    rot = int(dh * cfg["rotary_pct"])
    P = Params(seed, dtype)  # same seed for F16 and F32: values drawn identically ...
    P.w("gpt_neox.embed_in.weight", V, d, std=0.5)
    for L in range(nL):
        b = f"gpt_neox.layers.{L}."
        P.norm(b + "input_layernorm", d)
        P.norm(b + "post_attention_layernorm", d)
        P.w(b + "attention.query_key_value.weight", 3 * d, d, std=0.3)
        P.w(b + "attention.query_key_value.bias", 3 * d, std=0.1)
        P.w(b + "attention.dense.weight", d, d)
        P.w(b + "attention.dense.bias", d, std=0.1)
        P.w(b + "mlp.dense_h_to_4h.weight", dm, d)
        P.w(b + "mlp.dense_h_to_4h.bias", dm, std=0.1)
        P.w(b + "mlp.dense_4h_to_h.weight", d, dm)
        P.w(b + "mlp.dense_4h_to_h.bias", d, std=0.1)
        # buffers as in Pythia files: BOOL causal mask + BOOL scalar (per spec), and inv_freq
        # (F32, exact values; HF recomputes it from rotary_emb_base and ignores the file's copy)
        P.add(b + "attention.bias", causal_bool(n_pos), "BOOL")
        P.add(b + "attention.masked_bias", torch.tensor(True), "BOOL")
        inv = 1.0 / (cfg["rotary_emb_base"] ** (torch.arange(0, rot, 2, dtype=torch.float64) / rot))
        P.add(b + "attention.rotary_emb.inv_freq", inv.float(), "F32")
    P.norm("gpt_neox.final_layer_norm", d)
    P.w("embed_out.weight", V, d, std=0.5)
    if dtype == "F32":  # ... then rounded through F16, so the F32 file holds the F16 values exactly
        for n, (t, dt) in list(P.t.items()):
            if dt == "F32" and not n.endswith("inv_freq"):
                P.t[n] = (t.to(torch.float16).to(torch.float32), dt)
    ids = make_ids(seed + 1, V)
    sens = [
        ("rotary over the whole head instead of 25%", {"rotary_pct": 1.0}),
        ("rotary pairs interleaved instead of half-split", {"interleaved": True}),
        ("qkv read as [q|k|v] blocks instead of per head", {"qkv_blocked": True}),
        ("serial residual instead of parallel", {"serial": True}),
        ("gelu tanh-approx instead of exact erf", {"gelu_tanh": True}),
    ]
    return cfg, P, ids, fwd_gpt_neox, sens


def build_llama(seed, untied):
    V, n_pos, d, H, Hkv, nL, dm = 64, 32, 32, 4, 2, 2, 64
    cfg = {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 0,
        "eos_token_id": 0,
        "hidden_act": "silu",
        "hidden_size": d,
        "initializer_range": 0.02,
        "intermediate_size": dm,
        "max_position_embeddings": n_pos,
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": H,
        "num_hidden_layers": nL,
        "num_key_value_heads": Hkv,
        "pretraining_tp": 1,
        "rms_norm_eps": 1e-05 if untied else 1e-06,
        "rope_scaling": None,
        "rope_theta": 500000.0 if untied else 10000.0,
        "tie_word_embeddings": not untied,
        "torch_dtype": "float32" if untied else "bfloat16",
        "use_cache": True,
        "vocab_size": V,
    }
    dh = d // H
    P = Params(seed, "F32" if untied else "BF16")
    emb = P.randn(V, d, std=0.5)
    small = list(range(1, 7))
    emb[small] *= 0.004  # tiny rows: mean(x^2) ~ 4e-6, comparable to eps, so eps matters
    P.add("model.embed_tokens.weight", emb)
    for L in range(nL):
        b = f"model.layers.{L}."
        P.add(b + "input_layernorm.weight", 1.0 + P.randn(d, std=0.3))
        P.w(b + "self_attn.q_proj.weight", H * dh, d, std=0.3)
        P.w(b + "self_attn.k_proj.weight", Hkv * dh, d, std=0.3)
        P.w(b + "self_attn.v_proj.weight", Hkv * dh, d, std=0.3)
        P.w(b + "self_attn.o_proj.weight", d, H * dh)
        P.add(b + "post_attention_layernorm.weight", 1.0 + P.randn(d, std=0.3))
        P.w(b + "mlp.gate_proj.weight", dm, d, std=0.3)
        P.w(b + "mlp.up_proj.weight", dm, d, std=0.3)
        P.w(b + "mlp.down_proj.weight", d, dm)
    P.add("model.norm.weight", 1.0 + P.randn(d, std=0.3))
    if untied:
        P.w("lm_head.weight", V, d, std=0.5)
    ids = make_ids(seed + 1, V, small_tokens=small)
    other_eps = 1e-06 if untied else 1e-05
    sens = [
        (f"rms_norm_eps {other_eps:g} instead of {cfg['rms_norm_eps']:g}", {"eps": other_eps}),
        ("rotary pairs interleaved instead of half-split", {"interleaved": True}),
        ("GQA query head h -> kv head h % n_kv instead of h // n_rep", {"gqa_mod": True}),
        ("rope_theta 10000 instead of 500000" if untied else "rope_theta 500000 instead of 10000",
         {"theta": 10000.0 if untied else 500000.0}),
    ]
    return cfg, P, ids, fwd_llama, sens


# ----------------------------------------------------------------------------------------------
# output
# ----------------------------------------------------------------------------------------------


def f32_str(x):
    s = repr(np.float32(x))  # numpy: shortest decimal that round-trips float32
    assert math.isfinite(float(s)) and np.float32(float(s)) == np.float32(x)
    return s


def write_reference(path, ids, logits32):
    B, Tn, V = logits32.shape
    lines = ['{"input_ids": ' + json.dumps(ids.tolist(), separators=(",", ":")) + ',\n"logits": [']
    for bi in range(B):
        rows = []
        for ti in range(Tn):
            rows.append("[" + ",".join(f32_str(x) for x in logits32[bi, ti].tolist()) + "]")
        lines.append("[\n" + ",\n".join(rows) + "\n]" + ("," if bi < B - 1 else ""))
    lines.append("]}\n")
    with open(path, "w") as f:
        f.write("\n".join(lines))


def max_delta(a, b):
    return (a - b).abs().max().item()


def emit(outdir, name, cfg, P, ids, fwd, sens, shards=None):
    d = os.path.join(outdir, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    files = []
    if shards is None:
        write_safetensors(os.path.join(d, "model.safetensors"), P.t)
        files.append("model.safetensors")
    else:  # shards: list of predicates over tensor names, one per shard file
        n = len(shards)
        weight_map = {}
        total = 0
        seen = set()
        for si, pred in enumerate(shards):
            fn = f"model-{si + 1:05d}-of-{n:05d}.safetensors"
            part = {k: t for k, t in P.t.items() if pred(k) and k not in seen}
            assert part, fn
            seen |= set(part)
            total += write_safetensors(os.path.join(d, fn), part)
            weight_map.update({k: fn for k in part})
            files.append(fn)
        assert seen == set(P.t)
        index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
        with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
            json.dump(index, f, indent=2)
            f.write("\n")

    W64 = P.upcast()
    logits = fwd(lambda n: W64[n], cfg, ids)
    logits32 = logits.to(torch.float32)
    write_reference(os.path.join(d, "reference.json"), ids, logits32)

    # --- self-check: independent reader, bit-equal tensors, same logits from the re-read weights
    back = {}
    for fn in files:
        for k, (t, dt) in read_safetensors(os.path.join(d, fn)).items():
            assert k not in back, k
            back[k] = (t, dt)
    assert set(back) == set(P.t), set(back) ^ set(P.t)
    for k, (t, dt) in P.t.items():
        bt, bdt = back[k]
        assert bdt == dt and bt.dtype == t.dtype and list(bt.shape) == list(t.shape), k
        assert torch.equal(bt, t), k
    with open(os.path.join(d, "config.json")) as f:
        cfg_back = json.load(f)
    Wb = {k: t.to(torch.float64) for k, (t, dt) in back.items() if dt != "BOOL"}
    logits_back = fwd(lambda n: Wb[n], cfg_back, ids).to(torch.float32)
    with open(os.path.join(d, "reference.json")) as f:
        ref = json.load(f)
    assert ref["input_ids"] == ids.tolist()
    ref_l = torch.tensor(ref["logits"], dtype=torch.float32)
    assert list(ref_l.shape) == [2, T, cfg["vocab_size"]]
    d_reread = max_delta(logits_back, logits32)
    d_json = max_delta(ref_l, logits32)
    assert d_reread == 0.0 and d_json == 0.0, (name, d_reread, d_json)
    # conditioning: the same pass in float32 (what wraplab computes in) must already agree well
    # inside the tests' tolerance, else a 1e-4 comparison would be flaky rather than strict
    W32 = {k: t.to(torch.float32) for k, t in W64.items()}
    d_f32 = max_delta(fwd(lambda n: W32[n], cfg, ids).to(torch.float64), logits32.to(torch.float64))
    assert d_f32 < TOL / 4, (name, d_f32)

    size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    assert size < 150 * 1024, (name, size)
    spread = logits32.std().item()
    print(f"{name}: {size} bytes, logits std {spread:.3f} range [{logits32.min():.2f}, {logits32.max():.2f}], "
          f"reread delta {d_reread}, json delta {d_json}, float32-pass delta {d_f32:.2e}")
    assert spread > 1.0, (name, spread)  # logits must vary by units, or layout errors hide

    # --- sensitivity: each deliberate mistake must move logits beyond the test tolerance
    for label, var in sens:
        var = dict(var)
        zero = var.pop("_zero", False)
        dl = max_delta(fwd(lambda n: W64[n], cfg, ids, var), logits)
        print(f"    {label}: max |dlogit| = {dl:.3e}")
        if zero:
            assert dl == 0.0, (name, label, dl)
        else:
            assert dl > 10 * TOL, (name, label, dl)
    return logits32


def reader_rejects_broken_files():
    """The re-read check is only worth something if the reader can fail: feed it broken files."""
    tmp = tempfile.mkdtemp()
    try:
        p = os.path.join(tmp, "x.safetensors")
        write_safetensors(p, {"a": (torch.ones(3), "F32"), "b": (torch.ones(2, dtype=torch.bool), "BOOL")})
        good = open(p, "rb").read()
        read_safetensors(p)
        (hlen,) = struct.unpack("<Q", good[:8])
        broken = {
            "truncated data": good[:-1],
            "trailing byte": good + b"\0",
            "header length past the end": struct.pack("<Q", len(good)) + good[8:],
            "overlapping offsets": good.replace(b'"data_offsets":[12,14]', b'"data_offsets":[11,13]'),
            "BOOL byte 2": good[:-1] + b"\2",
        }
        for why, raw in broken.items():
            assert raw != good, why
            with open(p, "wb") as f:
                f.write(raw)
            try:
                read_safetensors(p)
            except (AssertionError, ValueError):
                continue
            raise SystemExit(f"reader accepted a broken file: {why}")
    finally:
        shutil.rmtree(tmp)
    print("reader rejects broken files: truncated, trailing, bad header length, overlap, BOOL 2")


def generate(outdir):
    reader_rejects_broken_files()
    os.makedirs(outdir, exist_ok=True)
    emit(outdir, "gpt2", *build_gpt2(1001, prefixed=False))
    emit(outdir, "gpt2-prefixed", *build_gpt2(1002, prefixed=True))
    emit(outdir, "gpt_neo", *build_gpt_neo(2001))
    l16 = emit(outdir, "gpt_neox", *build_gpt_neox(3001, "F16"))
    l32 = emit(outdir, "gpt_neox-f32", *build_gpt_neox(3001, "F32"))
    # the F32 file holds exactly the F16 values upcast, so the references must agree exactly
    assert torch.equal(l16, l32), max_delta(l16, l32)
    print("gpt_neox vs gpt_neox-f32 reference logits: identical")
    emit(outdir, "llama", *build_llama(4001, untied=False))
    # shard 1: embeddings + layer 0; shard 2: the rest (layer 1, final norm, untied head)
    emit(outdir, "llama-untied-sharded", *build_llama(4002, untied=True),
         shards=[lambda k: k.startswith("model.embed_tokens.") or k.startswith("model.layers.0."),
                 lambda k: True])


def tree_digest(d):
    h = hashlib.sha256()
    for root, _, fs in sorted(os.walk(d)):
        for fn in sorted(fs):
            p = os.path.join(root, fn)
            h.update(os.path.relpath(p, d).encode() + b"\0")
            with open(p, "rb") as f:
                h.update(f.read())
    return h.hexdigest()


if __name__ == "__main__":
    if "--check" in sys.argv:  # regenerate into a temp dir; must be byte-identical to the committed files
        tmp = tempfile.mkdtemp()
        try:
            generate(tmp)
            names = sorted(x for x in os.listdir(tmp))
            bad = [n for n in names if tree_digest(os.path.join(tmp, n)) != tree_digest(os.path.join(ROOT, n))]
            if bad:
                sys.exit(f"fixtures differ from a fresh generation: {bad}")
            print("committed fixtures are byte-identical to a fresh generation")
        finally:
            shutil.rmtree(tmp)
    else:
        generate(os.path.normpath(ROOT))
