#!/usr/bin/env python3
"""Writes a tiny nanochat checkpoint with torch.save, and its reference logits.

The checkpoint directory looks like one of nanochat's base_checkpoints/<tag>/:

    model_<step:06d>.pt    torch.save of a classic nanochat state_dict
    meta_<step:06d>.json   model_config (without window_pattern, as runs of
                           the classic model have it), step, val_bpb, ...

and holds what real checkpoints hold: every key prefixed `_orig_mod.` (a
torch.compile'd model), the token embedding in bfloat16 and the rest in
float32, the q/k/v projections of layer 0 as views at offsets into one shared
storage, and layer 1's MLP output projection as a transposed (non-contiguous)
view. Beside it go golden.json and golden.safetensors in the format of the
bundles under tests/golden/ (a batch, float64 reference logits and loss of
tests/tools/make_bundle.py's independent numpy reference, run on the weights
exactly as torch holds them), so that importing the checkpoint and running
`gptc verify` on the result compares gptc's logits with the reference.

    pip install torch numpy
    python3 tests/tools/make_nanochat_checkpoint.py --out tests/e2e/Inputs/nanochat-d2

It also writes, beside that directory, checkpoints gptc must refuse:

    <out>-lambdas/   the same model plus nanochat's current resid_lambdas
    <out>-evil/      model_000001.pt whose data.pkl calls os.system (it would
                     create <cwd>/PWNED-os-system if it ran) and
                     model_000002.pt whose data.pkl calls builtins.eval

A dev tool: its output is committed as data and the tests never run it.
"""

import argparse
import collections
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_bundle  # noqa: E402

STEP = 5


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="directory to write")
    parser.add_argument("--vocab-size", type=int, default=320)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    cfg = {
        "n_layer": 2, "n_head": 4, "n_kv_head": 2, "n_embd": 32,
        "vocab_size": args.vocab_size, "sequence_len": 64, "softcap": 15.0,
        "window_pattern": "none", "rope_base": 10000.0, "rope_bf16": True,
        "qk_scale": 1.0, "value_embeds": False, "smear": False, "backout": False,
        "layer_lambdas": False, "pad_vocab_to": 1, "rms_eps": "f32", "variant": "classic",
    }
    rng = np.random.default_rng(args.seed)
    weights = make_bundle.init_weights(cfg, rng)
    tokens, targets = make_bundle.make_batch(cfg, rng, 2, 16)

    state = {}
    for name, value in weights.items():
        state[name] = torch.from_numpy(value.copy())
    # The embedding in bfloat16, as nanochat keeps it on the GPU.
    state["transformer.wte.weight"] = state["transformer.wte.weight"].to(torch.bfloat16)
    # Layer 0's q, k and v: views into one storage (offsets 0, |q|, |q|+|k|).
    p = "transformer.h.0.attn."
    q, k, v = (state[p + n + ".weight"] for n in ("c_q", "c_k", "c_v"))
    flat = torch.cat([q.flatten(), k.flatten(), v.flatten()])
    nq, nk = q.numel(), k.numel()
    state[p + "c_q.weight"] = flat[:nq].view(q.shape)
    state[p + "c_k.weight"] = flat[nq:nq + nk].view(k.shape)
    state[p + "c_v.weight"] = flat[nq + nk:].view(v.shape)
    # Layer 1's MLP projection stored transposed: strides (1, rows).
    name = "transformer.h.1.mlp.c_proj.weight"
    state[name] = state[name].t().contiguous().t()
    assert not state[name].is_contiguous()

    # The reference runs on the weights as torch holds them (bf16 embedding
    # widened exactly).
    as_loaded = {n: t.float().numpy() for n, t in state.items()}
    logits64 = make_bundle.forward(as_loaded, tokens, cfg, np.float64)
    logits32 = make_bundle.forward(as_loaded, tokens, cfg, np.float32)
    loss64 = make_bundle.cross_entropy(logits64, targets)
    loss32 = make_bundle.cross_entropy(logits32, targets)

    os.makedirs(args.out, exist_ok=True)
    compiled = collections.OrderedDict(("_orig_mod." + n, t) for n, t in state.items())
    torch.save(compiled, os.path.join(args.out, f"model_{STEP:06d}.pt"))
    model_config = {k: cfg[k] for k in
                    ("sequence_len", "vocab_size", "n_layer", "n_head", "n_kv_head", "n_embd")}
    meta = {"step": STEP, "val_bpb": 3.25, "model_config": model_config,
            "user_config": {"depth": 2, "run": "fixture"}, "device_batch_size": 2,
            "max_seq_len": cfg["sequence_len"]}
    with open(os.path.join(args.out, f"meta_{STEP:06d}.json"), "w") as f:
        json.dump(meta, f, indent=2)

    golden = {
        "tokens": tokens, "targets": targets,
        "logits": logits32, "logits_f64": logits64,
        "loss": np.asarray(loss32, dtype=np.float32),
        "loss_f64": np.asarray(loss64, dtype=np.float64),
    }
    make_bundle.write_safetensors(os.path.join(args.out, "golden.safetensors"), golden,
                                  {"format": make_bundle.FORMAT, "kind": "golden"})
    summary = {
        "format": make_bundle.FORMAT, "config": cfg, "seed": args.seed,
        "generator": "tests/tools/make_nanochat_checkpoint.py",
        "files": {"weights": "weights.safetensors", "golden": "golden.safetensors"},
        "loss_f64": float(loss64),
        "suggested_tolerances": {"logits_f32_abs": 1e-4, "loss_f32_abs": 1e-5,
                                 "vs_f64_reference_logits_abs": 1e-4},
    }
    with open(os.path.join(args.out, "golden.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(f"{args.out}: model_{STEP:06d}.pt, loss_f64 {float(loss64)!r}")

    lambdas = args.out.rstrip("/") + "-lambdas"
    os.makedirs(lambdas, exist_ok=True)
    current = collections.OrderedDict(compiled)
    current["_orig_mod.resid_lambdas"] = torch.ones(cfg["n_layer"])
    torch.save(current, os.path.join(lambdas, f"model_{STEP:06d}.pt"))
    with open(os.path.join(lambdas, f"meta_{STEP:06d}.json"), "w") as f:
        json.dump(meta, f, indent=2)

    evil = args.out.rstrip("/") + "-evil"
    os.makedirs(evil, exist_ok=True)
    write_evil(os.path.join(evil, "model_000001.pt"), "os", "system",
               "touch PWNED-os-system")
    write_evil(os.path.join(evil, "model_000002.pt"), "builtins", "eval",
               "open('PWNED-eval', 'w')")
    for step in (1, 2):
        with open(os.path.join(evil, f"meta_{step:06d}.json"), "w") as f:
            json.dump(meta, f, indent=2)


def write_evil(path, module, name, argument):
    """A torch-style zip whose data.pkl is {'transformer.wte.weight':
    module.name(argument)}: pickle.load would run the call."""
    import struct
    import zipfile

    arg = argument.encode()
    data = (b"\x80\x02}X" + struct.pack("<I", 22) + b"transformer.wte.weight"
            + b"c" + module.encode() + b"\n" + name.encode() + b"\n"
            + b"X" + struct.pack("<I", len(arg)) + arg + b"\x85Rs.")
    stem = os.path.splitext(os.path.basename(path))[0]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{stem}/data.pkl", data)
        z.writestr(f"{stem}/byteorder", "little")
        z.writestr(f"{stem}/version", "3\n")


if __name__ == "__main__":
    main()
