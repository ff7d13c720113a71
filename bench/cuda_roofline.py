#!/usr/bin/env python3
"""Roofline estimates of gptc's CUDA kernels on an H100 SXM.

No GPU is needed: for one training step (micro-batch B x T) and one decode
step of a model, prints per kernel the FLOPs, the DRAM bytes it must move at
least, the time each implies at the H100's peaks, which one bounds the
kernel, and the fraction of that bound the kernel's design is expected to
reach (a design estimate, to be replaced by measurements on a GPU with
bench/cuda_attention.sh).

usage: cuda_roofline.py [--layers 20 --dim 1280 --heads 10 --kv-heads 10
                         --vocab 65536 --batch 32 --seq 2048 --markdown]
"""

import argparse

# H100 SXM5 dense peaks (NVIDIA datasheet): bf16 tensor cores, fp32 SIMT
# (non-tensor), HBM3 bandwidth.
BF16_FLOPS = 989e12
FP32_FLOPS = 67e12
HBM_BYTES = 3.35e12


def kernels(L, C, H, Hkv, V, B, T, precision):
    """(name, library, flops, bytes, peak, expected fraction, why) rows."""
    D = C // H
    F = 4 * C
    N = B * T
    f4 = 4  # bytes per fp32 element
    gemm_peak = BF16_FLOPS if precision == "bf16" else FP32_FLOPS
    gemm_note = ("cuBLASLt bf16 tensor cores, fp32 accumulate"
                 if precision == "bf16" else "cuBLASLt fp32 SIMT (no TF32)")
    proj = 2 * N * C * (C + 2 * Hkv * D + C)  # q, k, v, o
    mlp = 2 * N * C * F * 2
    rows = []
    rows.append(("linear fwd (all layers)", gemm_note, L * (proj + mlp),
                 L * f4 * (N * C * 6 + N * F * 2 + C * C * 4 + C * F * 2),
                 gemm_peak, 0.70, "large K and N; bf16 operands converted "
                 "per call (extra 6 B/elt)"))
    rows.append(("linear bwd (dx, dw)", gemm_note, 2 * L * (proj + mlp),
                 2 * L * f4 * (N * C * 6 + N * F * 2 + C * C * 4 + C * F * 2),
                 gemm_peak, 0.70, "two GEMMs per linear"))
    attn_fwd = 2 * B * H * T * T * D  # causal: half of 4·B·H·T²·D
    rows.append(("causalAttentionForward<D>", "own, mma.sync bf16",
                 L * attn_fwd, L * f4 * (N * (H + 2 * Hkv) * D + N * H * D
                                         + N * H),
                 BF16_FLOPS, 0.25, "FA2 tiling without cp.async/ldmatrix "
                 "pipelining; FA2 itself reaches ~0.35 on H100"))
    rows.append(("causalAttentionBackwardKernel<D>", "own, mma.sync bf16",
                 L * 2.5 * attn_fwd,
                 L * f4 * (N * (H + 2 * Hkv) * D * 2 + N * H * D * 3),
                 BF16_FLOPS, 0.20, "5 products per tile, dq through fp32 "
                 "atomics"))
    rows.append(("SDPA fwd+bwd (--attention=cudnn)", "cuDNN 9 flash engines",
                 L * 3.5 * attn_fwd,
                 L * f4 * (N * (H + 2 * Hkv) * D * 3 + N * H * D * 4),
                 BF16_FLOPS, 0.45, "FA3-class per kernels.md §2.7; plus "
                 "fp32<->bf16 copies"))
    # Streaming ops per layer, forward, fp32: norms, rope and q/k norms
    # (read + write), two residual adds (2 reads + 1 write), ReLU² on
    # [N, F]; the backward moves about twice as much.
    qk = N * (H + Hkv) * D
    stream_fwd = f4 * (2 * N * C * 2 + 2 * qk * 2 + 3 * N * C * 2
                       + 2 * N * F)
    rows.append(("rmsNorm, rope, add, reluSquare fwd+bwd", "own",
                 L * 3 * 10 * (2 * N * C + qk + N * F), L * 3 * stream_fwd,
                 BF16_FLOPS, 0.80, "streaming with float4 loads; one launch "
                 "per op, no elementwise fusion, fp32 activations"))
    rows.append(("lmHeadLoss fwd+bwd (chunked)", gemm_note + " + own CE",
                 6 * N * C * V, f4 * (N * V * 4 + C * V * 3 + N * C * 3),
                 gemm_peak, 0.60, "[512, V] logit chunks go through memory "
                 "(4·V bytes/row, 4 passes); w converted to bf16 per call"))
    # Newton-Schulz, 5 iterations per matrix (r <= c): X·Xᵀ (2r²c),
    # A·A (2r³), (bA + cA²)·X (2r²c), in fp32.
    def ns(r, c):
        r, c = min(r, c), max(r, c)
        return 5 * (4 * r * r * c + 2 * r ** 3)
    ns_flops = L * (2 * ns(C, C) + 2 * ns(Hkv * D, C) + 2 * ns(C, F))
    params = L * (C * (C + 2 * Hkv * D + C) + 2 * C * F)
    rows.append(("Muon (NS5 via cuBLASLt) + AdamW, per optimizer step",
                 "cuBLASLt fp32 + own", ns_flops,
                 f4 * params * 6 + f4 * 2 * V * C * 5, FP32_FLOPS, 0.70,
                 "Newton-Schulz in fp32 SIMT (nanochat runs it in bf16)"))
    return rows


def decode_rows(L, C, H, Hkv, V, rows_, context):
    D = C // H
    F = 4 * C
    weights = 4 * (L * (C * (C + 2 * Hkv * D + C) + 2 * C * F) + V * C)
    kv = rows_ * L * 2 * Hkv * D * 4 * context
    return [("decode step GEMV (linear, rows=%d)" % rows_,
             "cuBLASLt fp32", 2 * rows_ * weights / 4, weights, FP32_FLOPS,
             0.75, "weight streaming; graph-replayed, no launch gaps"),
            ("attendSplitKernel (split-KV, context %d)" % context, "own SIMT",
             4 * rows_ * L * H * D * context, kv, FP32_FLOPS, 0.70,
             "float4 / 4×bf16 loads, splits fill 2 blocks per SM")]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--layers", type=int, default=20)
    p.add_argument("--dim", type=int, default=1280)
    p.add_argument("--heads", type=int, default=10)
    p.add_argument("--kv-heads", type=int, default=10)
    p.add_argument("--vocab", type=int, default=65536)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", type=int, default=2048)
    p.add_argument("--precision", choices=["f32", "bf16"], default="bf16")
    p.add_argument("--markdown", action="store_true")
    a = p.parse_args()
    table = kernels(a.layers, a.dim, a.heads, a.kv_heads, a.vocab, a.batch,
                    a.seq, a.precision)
    table += decode_rows(a.layers, a.dim, a.heads, a.kv_heads, a.vocab, 1,
                         a.seq)
    print(f"H100 SXM roofline, L={a.layers} C={a.dim} H={a.heads} "
          f"Hkv={a.kv_heads} V={a.vocab}, train B={a.batch} T={a.seq} "
          f"({a.precision} GEMMs), decode batch 1 at context {a.seq}")
    if a.markdown:
        print("| kernel | implementation | GFLOP | GB moved | bound | "
              "roofline time | design estimate | expected time | why |")
        print("|---|---|---|---|---|---|---|---|---|")
    total = 0.0
    for name, lib, flops, moved, peak, frac, why in table:
        t_flops = flops / peak
        t_bytes = moved / HBM_BYTES
        bound = "compute" if t_flops >= t_bytes else "memory"
        t = max(t_flops, t_bytes)
        expected = t / frac
        if "cudnn" not in name and "decode" not in name \
                and "Split" not in name:
            total += expected
        if a.markdown:
            print(f"| `{name}` | {lib} | {flops / 1e9:,.0f} | "
                  f"{moved / 1e9:,.2f} | {bound} | {t * 1e3:.3f} ms | "
                  f"{frac:.0%} | {expected * 1e3:.3f} ms | {why} |")
        else:
            print(f"{name:<45} {bound:<8} roofline {t * 1e3:9.3f} ms  "
                  f"x{1 / frac:.1f} -> {expected * 1e3:9.3f} ms  ({lib})")
    tokens = a.batch * a.seq
    print(f"\none micro-batch + one optimizer step (own attention): "
          f"expected {total * 1e3:.1f} ms = "
          f"{tokens / total:,.0f} tok/s per GPU")


if __name__ == "__main__":
    main()
