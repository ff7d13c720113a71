#!/usr/bin/env python3
"""Independent numpy reference for the nanochat "classic" GPT; writes bundles.

Produces a reference bundle in the "nanochat_ref/1" format of the bundles
under tests/golden/ (weights.safetensors, golden.safetensors, golden.json),
for forward logits and loss only: no gradients, no decode data, no
activations. The model is run twice from the same float32 weights: once in
float64 (`logits_f64`, `loss_f64`) and once entirely in float32 (`logits`,
`loss`), with the same code.

The reference implements the classic variant only: no sliding window, no value
embeddings, smear, backout or layer lambdas, qk_scale 1.0, no vocab padding
and RMSNorm eps = float32 machine epsilon. Those config fields are therefore
fixed; every other one is a flag.

Generate a bundle (numpy is the only dependency; `pip install numpy`):

    python3 tests/tools/make_bundle.py --out tests/golden/NAME \\
        --n-layer 2 --n-head 4 --n-kv-head 2 --n-embd 64 --vocab-size 97 \\
        --sequence-len 16 [--rope-bf16 | --no-rope-bf16] \\
        [--rope-base 10000] [--softcap 15] \\
        --batch 2 --seq 16 --seed 7

Check the reference against an existing bundle (its float64 logits and loss
must agree to 1e-9, or 1e-6 when rope_bf16 is false, see below):

    python3 tests/tools/make_bundle.py --check tests/golden/classic-gqa

A bundle made by torch with rope_bf16 false agrees only to ~1e-7: its float32
RoPE tables come from torch's cos/sin, which differ from the correctly rounded
ones used here by 1 ulp in a few percent of the entries (with rope_bf16 true
the bfloat16 rounding hides that).

The script is a dev tool: the bundles it writes are committed as data and the
tests never run it.
"""

import argparse
import json
import math
import os
import struct
import sys

import numpy as np

FORMAT = "nanochat_ref/1"
GENERATOR = "tests/tools/make_bundle.py"
# RMSNorm epsilon of the classic model: float32 machine epsilon, 2^-23.
RMS_EPS = float(np.finfo(np.float32).eps)
# Agreement required of the float64 reference by --check; bundles with
# float32 RoPE tables made by torch differ in 1-ulp table entries (docstring).
CHECK_TOL = 1e-9
CHECK_TOL_FP32_ROPE = 1e-6
SUGGESTED_TOLERANCES = {
    "logits_f32_abs": 1e-05,
    "loss_f32_abs": 1e-05,
    "grads_f32_rel_to_max": 0.0001,
    "vs_f64_reference_logits_abs": 1e-05,
}

# --- safetensors -------------------------------------------------------------

ST_DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64}
ST_NAMES = {np.dtype(v): k for k, v in ST_DTYPES.items()}


def write_safetensors(path, tensors, metadata):
    """Writes `tensors` (name -> array, in order) and string `metadata`.

    Layout: 8-byte little-endian header length, the JSON header (padded with
    spaces to a multiple of 8 bytes), then the tensors' little-endian bytes
    back to back in header order.
    """
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        array = np.asarray(array)
        blob = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes(order="C")
        header[name] = {
            "dtype": ST_NAMES[array.dtype],
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(blob)],
        }
        blobs.append(blob)
        offset += len(blob)
    header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def read_safetensors(path):
    """Returns the tensors of a safetensors file as a name -> array dict."""
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    header.pop("__metadata__", None)
    base = 8 + length
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = np.dtype(ST_DTYPES[info["dtype"]]).newbyteorder("<")
        array = np.frombuffer(data[base + begin:base + end], dtype=dtype)
        tensors[name] = array.reshape(info["shape"]).astype(dtype.newbyteorder("="))
    return tensors


# --- model -------------------------------------------------------------------


def param_shapes(cfg):
    """The parameters' names and shapes, in nanochat state_dict order."""
    C, V = cfg["n_embd"], cfg["vocab_size"]
    D = C // cfg["n_head"]
    shapes = {"transformer.wte.weight": (V, C)}
    for i in range(cfg["n_layer"]):
        p = f"transformer.h.{i}."
        shapes[p + "attn.c_q.weight"] = (cfg["n_head"] * D, C)
        shapes[p + "attn.c_k.weight"] = (cfg["n_kv_head"] * D, C)
        shapes[p + "attn.c_v.weight"] = (cfg["n_kv_head"] * D, C)
        shapes[p + "attn.c_proj.weight"] = (C, C)
        shapes[p + "mlp.c_fc.weight"] = (4 * C, C)
        shapes[p + "mlp.c_proj.weight"] = (C, 4 * C)
    shapes["lm_head.weight"] = (V, C)
    return shapes


def init_weights(cfg, rng):
    """Test init, every parameter nonzero, activations O(1), as float32.

    wte ~ N(0, 1); each Linear [out, in] ~ N(0, 1/in); lm_head ~ 2 N(0, 1/C).
    """
    weights = {}
    for name, shape in param_shapes(cfg).items():
        if name == "transformer.wte.weight":
            std = 1.0
        elif name == "lm_head.weight":
            std = 2.0 / math.sqrt(shape[1])
        else:
            std = 1.0 / math.sqrt(shape[1])
        weights[name] = (rng.standard_normal(shape) * std).astype(np.float32)
    return weights


def round_to_bf16(x):
    """Rounds float32 `x` to bfloat16 (nearest, ties to even), as float32."""
    bits = x.astype(np.float32).view(np.uint32)
    bits = (bits + np.uint32(0x7FFF) + ((bits >> 16) & np.uint32(1))) & np.uint32(0xFFFF0000)
    return bits.view(np.float32)


def rope_tables(T, D, base, bf16):
    """cos and sin [T, D/2] in float32, built the way nanochat builds them.

    inv_freq and the angles are float32 operations, as in torch. cos and sin
    of the float32 angles are evaluated in float64 and rounded to float32,
    i.e. correctly rounded: numpy's float32 cos/sin (SIMD, version- and
    CPU-dependent) and torch's (its vector math library) are both only
    within 1 ulp of that, and each picks different last bits.
    """
    exponent = np.arange(0, D, 2, dtype=np.float32) / np.float32(D)
    inv_freq = np.float32(1.0) / (np.float32(base) ** exponent)
    angle = np.arange(T, dtype=np.float32)[:, None] * inv_freq[None, :]
    cos = np.cos(angle.astype(np.float64)).astype(np.float32)
    sin = np.sin(angle.astype(np.float64)).astype(np.float32)
    if bf16:
        cos, sin = round_to_bf16(cos), round_to_bf16(sin)
    return cos, sin


def rms_norm(x, eps):
    """x / sqrt(mean(x^2) + eps) over the last axis, no weight."""
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)


def apply_rope(x, cos, sin):
    """Half-split rotation of x [B, T, heads, D] by cos/sin [T, D/2]."""
    half = x.shape[-1] // 2
    a, b = x[..., :half], x[..., half:]
    cos, sin = cos[None, :, None, :], sin[None, :, None, :]
    return np.concatenate([a * cos + b * sin, -a * sin + b * cos], axis=-1)


def attention(u, w, prefix, cfg, cos, sin, eps):
    """Causal GQA self-attention with RoPE and QK-norm; u is [B, T, C]."""
    B, T, C = u.shape
    H, Hkv = cfg["n_head"], cfg["n_kv_head"]
    D = C // H
    q = (u @ w[prefix + "c_q.weight"].T).reshape(B, T, H, D)
    k = (u @ w[prefix + "c_k.weight"].T).reshape(B, T, Hkv, D)
    v = (u @ w[prefix + "c_v.weight"].T).reshape(B, T, Hkv, D)
    q = rms_norm(apply_rope(q, cos, sin), eps)
    k = rms_norm(apply_rope(k, cos, sin), eps)
    # [B, heads, T, D]; query head h reads kv head h // (H / Hkv).
    q = q.transpose(0, 2, 1, 3)
    k = np.repeat(k.transpose(0, 2, 1, 3), H // Hkv, axis=1)
    v = np.repeat(v.transpose(0, 2, 1, 3), H // Hkv, axis=1)
    scores = (q @ k.transpose(0, 1, 3, 2)) * u.dtype.type(1.0 / math.sqrt(D))
    future = np.triu(np.ones((T, T), dtype=bool), k=1)
    scores = np.where(future, u.dtype.type(-np.inf), scores)
    p = np.exp(scores - scores.max(axis=-1, keepdims=True))
    p = p / p.sum(axis=-1, keepdims=True)
    y = (p @ v).transpose(0, 2, 1, 3).reshape(B, T, C)
    return y @ w[prefix + "c_proj.weight"].T


def mlp(u, w, prefix):
    """relu(u W_fc^T)^2 W_proj^T."""
    h = np.maximum(u @ w[prefix + "c_fc.weight"].T, 0)
    return (h * h) @ w[prefix + "c_proj.weight"].T


def forward(weights, tokens, cfg, dtype):
    """Logits [B, T, V] of the classic model, every operation in `dtype`."""
    w = {name: value.astype(dtype) for name, value in weights.items()}
    eps = dtype(RMS_EPS)
    D = cfg["n_embd"] // cfg["n_head"]
    cos, sin = rope_tables(tokens.shape[1], D, cfg["rope_base"], cfg["rope_bf16"])
    cos, sin = cos.astype(dtype), sin.astype(dtype)
    x = rms_norm(w["transformer.wte.weight"][tokens], eps)
    for i in range(cfg["n_layer"]):
        prefix = f"transformer.h.{i}."
        x = x + attention(rms_norm(x, eps), w, prefix + "attn.", cfg, cos, sin, eps)
        x = x + mlp(rms_norm(x, eps), w, prefix + "mlp.")
    logits = rms_norm(x, eps) @ w["lm_head.weight"].T
    softcap = dtype(cfg["softcap"])
    return softcap * np.tanh(logits / softcap)


def cross_entropy(logits, targets):
    """Mean of logsumexp - logit[target] over targets != -1, in logits' dtype."""
    keep = targets != -1
    rows = logits[keep]
    top = rows.max(axis=-1)
    lse = top + np.log(np.exp(rows - top[:, None]).sum(axis=-1))
    picked = rows[np.arange(rows.shape[0]), targets[keep]]
    return (lse - picked).sum() / logits.dtype.type(rows.shape[0])


# --- bundles -----------------------------------------------------------------


def full_config(args):
    """The bundle's "config" object: the flags plus the fixed classic fields."""
    return {
        "n_layer": args.n_layer,
        "n_head": args.n_head,
        "n_kv_head": args.n_kv_head,
        "n_embd": args.n_embd,
        "vocab_size": args.vocab_size,
        "sequence_len": args.sequence_len,
        "softcap": args.softcap,
        "window_pattern": "none",
        "rope_base": args.rope_base,
        "rope_bf16": args.rope_bf16,
        "qk_scale": 1.0,
        "value_embeds": False,
        "smear": False,
        "backout": False,
        "layer_lambdas": False,
        "pad_vocab_to": 1,
        "rms_eps": "f32",
        "variant": "classic",
    }


def validate(cfg, batch, seq):
    """Exits with a message if the shapes are not a valid classic model/batch."""
    H, Hkv, C = cfg["n_head"], cfg["n_kv_head"], cfg["n_embd"]
    problems = []
    if C % H or (C // H) % 2:
        problems.append("n_embd must be n_head times an even head dim")
    if Hkv < 1 or H % Hkv:
        problems.append("n_head must be a multiple of n_kv_head")
    if not 2 <= seq <= cfg["sequence_len"]:
        problems.append("--seq must be in [2, sequence_len]")
    if batch < 1:
        problems.append("--batch must be positive")
    if problems:
        sys.exit("make_bundle.py: " + "; ".join(problems))


def make_batch(cfg, rng, batch, seq):
    """Random tokens [B, T] and their next-token targets, int64.

    The last position of every row has no next token and one mid-row position
    of row 0 is ignored too, so both are -1.
    """
    stream = rng.integers(0, cfg["vocab_size"], size=(batch, seq + 1), dtype=np.int64)
    tokens = stream[:, :-1].copy()
    targets = stream[:, 1:].copy()
    targets[:, -1] = -1
    targets[0, seq // 2] = -1
    return tokens, targets


def param_counts(cfg):
    """The "params" object of golden.json."""
    counts = {"wte": 0, "value_embeds": 0, "lm_head": 0, "transformer_matrices": 0, "scalars": 0}
    for name, shape in param_shapes(cfg).items():
        group = {"transformer.wte.weight": "wte", "lm_head.weight": "lm_head"}.get(
            name, "transformer_matrices")
        counts[group] += shape[0] * shape[1]
    counts["total"] = sum(counts.values())
    return counts


def write_bundle(out, cfg, seed, batch, seq):
    """Generates weights and a batch from `seed`, runs both passes, writes out/."""
    rng = np.random.default_rng(seed)
    weights = init_weights(cfg, rng)
    tokens, targets = make_batch(cfg, rng, batch, seq)
    logits64 = forward(weights, tokens, cfg, np.float64)
    logits32 = forward(weights, tokens, cfg, np.float32)
    loss64 = cross_entropy(logits64, targets)
    loss32 = cross_entropy(logits32, targets)

    cfg_text = json.dumps(cfg, sort_keys=True)
    os.makedirs(out, exist_ok=True)
    write_safetensors(os.path.join(out, "weights.safetensors"), weights, {
        "format": FORMAT, "nanochat_ref_config": cfg_text, "seed": str(seed), "init": "test"})
    golden = {
        "tokens": tokens,
        "targets": targets,
        "logits": logits32,
        "logits_f64": logits64,
        "loss": np.asarray(loss32, dtype=np.float32),
        "loss_f64": np.asarray(loss64, dtype=np.float64),
    }
    write_safetensors(os.path.join(out, "golden.safetensors"), golden, {
        "format": FORMAT, "kind": "golden", "nanochat_ref_config": cfg_text})
    summary = {
        "format": FORMAT,
        "config": cfg,
        "seed": seed,
        "init": "test",
        "generator": GENERATOR,
        "files": {"weights": "weights.safetensors", "golden": "golden.safetensors"},
        "tokens": tokens.tolist(),
        "targets": targets.tolist(),
        "loss_f32": float(loss32),
        "loss_f64": float(loss64),
        "logits_f32_vs_f64_max_abs": float(np.abs(logits32 - logits64).max()),
        "params": param_counts(cfg),
        "window_sizes": [None] * cfg["n_layer"],
        "ve_layers": [],
        "golden_tensors": {name: list(value.shape) for name, value in golden.items()},
        "suggested_tolerances": SUGGESTED_TOLERANCES,
    }
    with open(os.path.join(out, "golden.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(f"{out}: loss_f32 {float(loss32)!r} loss_f64 {float(loss64)!r} "
          f"logits f32 vs f64 max abs {summary['logits_f32_vs_f64_max_abs']:.3e}")


def check_bundle(bundle):
    """Runs the reference on an existing bundle; returns True if it agrees."""
    with open(os.path.join(bundle, "golden.json")) as f:
        cfg = json.load(f)["config"]
    weights = read_safetensors(os.path.join(bundle, "weights.safetensors"))
    golden = read_safetensors(os.path.join(bundle, "golden.safetensors"))
    tokens, targets = golden["tokens"], golden["targets"]
    logits64 = forward(weights, tokens, cfg, np.float64)
    logits32 = forward(weights, tokens, cfg, np.float32)
    logits_err = float(np.abs(logits64 - golden["logits_f64"]).max())
    loss_err = abs(float(cross_entropy(logits64, targets)) - float(golden["loss_f64"]))
    logits32_err = float(np.abs(logits32 - golden["logits"]).max())
    loss32_err = abs(float(cross_entropy(logits32, targets)) - float(golden["loss"]))
    tol = CHECK_TOL if cfg["rope_bf16"] else CHECK_TOL_FP32_ROPE
    ok = logits_err < tol and loss_err < tol
    print(f"{bundle}: f64 max |logits - logits_f64| {logits_err:.3e}, "
          f"|loss - loss_f64| {loss_err:.3e} (tolerance {tol:g}): "
          f"{'ok' if ok else 'FAIL'}")
    print(f"{bundle}: f32 max |logits - logits| {logits32_err:.3e}, "
          f"|loss - loss| {loss32_err:.3e} (informational)")
    return ok


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", metavar="BUNDLE_DIR",
                        help="check the reference against an existing bundle and exit")
    parser.add_argument("--out", metavar="DIR", help="directory of the bundle to write")
    parser.add_argument("--n-layer", type=int)
    parser.add_argument("--n-head", type=int)
    parser.add_argument("--n-kv-head", type=int)
    parser.add_argument("--n-embd", type=int)
    parser.add_argument("--vocab-size", type=int)
    parser.add_argument("--sequence-len", type=int)
    parser.add_argument("--rope-bf16", action=argparse.BooleanOptionalAction, default=True,
                        help="round the RoPE cos/sin tables to bfloat16 (default: yes)")
    parser.add_argument("--rope-base", type=float, default=10000.0)
    parser.add_argument("--softcap", type=float, default=15.0)
    parser.add_argument("--batch", type=int, help="B, rows of the golden batch")
    parser.add_argument("--seq", type=int, help="T, tokens per row (<= sequence_len)")
    parser.add_argument("--seed", type=int, help="seed of the weights and the batch")
    args = parser.parse_args()

    if args.check:
        sys.exit(0 if check_bundle(args.check) else 1)
    required = ["out", "n_layer", "n_head", "n_kv_head", "n_embd", "vocab_size",
                "sequence_len", "batch", "seq", "seed"]
    missing = ["--" + name.replace("_", "-") for name in required if getattr(args, name) is None]
    if missing:
        parser.error("missing " + ", ".join(missing))
    cfg = full_config(args)
    validate(cfg, args.batch, args.seq)
    write_bundle(args.out, cfg, args.seed, args.batch, args.seq)


if __name__ == "__main__":
    main()
