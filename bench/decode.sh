#!/usr/bin/env bash
# Batch-1 decode speed of gptc against PyTorch's KV-cache decode, in one run
# so that both see the same machine: tiny and small configs, a 32-token
# prompt, 128 new tokens. Prints tokens/s with the cache, the ratio to
# PyTorch, the fraction of the bandwidth limit (weight bytes per token over
# this machine's read bandwidth on a working set that size, measured here by
# bench/bandwidth.cpp), and decoding without a cache (a full forward pass per
# token, measured at the mean sequence length) to show what the cache buys.
# Not a test: numbers move with the machine's load.
#
# usage: bench/decode.sh   (needs build/, and for the baseline /usr/bin/python3
#                           with torch: apt-get install python3-torch
#                           libopenblas0-pthread; ../shared/bench/torch_gpt.py
#                           or $TORCH_GPT)
set -euo pipefail
cd "$(dirname "$0")/.."
torch_gpt=${TORCH_GPT:-../shared/bench/torch_gpt.py}
work=build/bench
mkdir -p "$work"
c++ -O3 -march=native -ffast-math -fopenmp bench/bandwidth.cpp -o "$work/bandwidth"
python3 -c "print(''.join(str(i % 10) for i in range(200000)))" > "$work/digits.txt"

echo "== PyTorch baseline (fp32, OMP_WAIT_POLICY=PASSIVE) =="
OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 "$torch_gpt" --omp-passive \
  --configs tiny small --modes decode --threads 2 --json-out "$work/torch-decode.json" > /dev/null

prompt=$(printf '%032d' 7)
printf "\n%-6s %14s %12s %8s %11s %16s %14s\n" config "gptc tok/s" "torch tok/s" ratio "of limit" "gptc no-cache" "torch no-cache"
for config in tiny small; do
  toml=models/$config.toml
  # Weights: the initialisation a 1-step training run saves (speed does not
  # depend on the values).
  build/bin/gptc compile "$toml" --mode=train --batch 1 -o "$work/init_$config" > /dev/null
  rm -rf "$work/init_run_$config"
  "$work/init_$config" --data "$work/digits.txt" --steps 1 --batch 1 --out "$work/init_run_$config" > /dev/null
  weights=$work/init_run_$config/model.safetensors
  build/bin/gptc compile "$toml" --mode=decode -o "$work/decode_$config" > /dev/null
  stats=$("$work/decode_$config" --weights "$weights" --prompt "$prompt" --max-tokens 128 \
            --temperature 0 --quiet 2>&1 >/dev/null)
  # No cache: one forward pass over the whole sequence per token, at the
  # mean length of the 160-token run.
  build/bin/gptc compile "$toml" --batch 1 --seq 96 -o "$work/forward_$config" > /dev/null
  python3 - "$work/batch_$config.safetensors" <<'PY'
import json, struct, sys
tokens = [48 + i % 10 for i in range(96)]
data = struct.pack("<96q", *tokens)
header = json.dumps({"tokens": {"dtype": "I64", "shape": [1, 96], "data_offsets": [0, 768]},
                     "targets": {"dtype": "I64", "shape": [1, 96], "data_offsets": [768, 1536]}}).encode()
header += b" " * (-len(header) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(header)) + header + data + data)
PY
  nocache_ms=$("$work/forward_$config" --weights "$weights" --repeat 20 \
      --data "$work/batch_$config.safetensors" | sed -E 's/.* in ([0-9.]+) ms.*/\1/')
  bytes=$(stat -c %s "$weights")
  bandwidth=$("$work/bandwidth" "$bytes")
  python3 - "$config" "$stats" "$work" "$bytes" "$bandwidth" "$nocache_ms" <<'PY'
import json, re, sys
config, stats, work, weight_bytes, bandwidth, nocache_ms = sys.argv[1:]
ours = float(re.search(r"decode \d+ tokens at ([\d,.]+) tokens/s", stats).group(1).replace(",", ""))
torch = next(r for r in json.load(open(f"{work}/torch-decode.json"))["results"]
             if r["config"] == config and r["mode"] == "decode")
limit = float(bandwidth) * 1e9 / int(weight_bytes)
print(f"{config:6} {ours:14.0f} {torch['decode_tokens_per_s']:12.0f} "
      f"{ours / torch['decode_tokens_per_s']:7.2f}x {100 * ours / limit:10.1f}% "
      f"{1000 / float(nocache_ms):16.1f} {torch['nocache_tokens_per_s']:14.1f}")
print(f"       (limit {limit:.0f} tok/s: {int(weight_bytes) / 2**20:.1f} MiB of weights at {float(bandwidth):.1f} GB/s)")
PY
done
