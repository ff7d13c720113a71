#!/usr/bin/env bash
# The demo: build gptc, then
#  1. compile the bundled classic GQA model to a forward-pass program, run it
#     on the bundled weights and check it against the float64 reference;
#  2. compile models/tiny.toml to a training program and train it for a few
#     minutes on a synthetic task that needs attention to earlier tokens
#     (adding numbers: "123+45=168"), then show the loss curve and how many
#     held-out sums it gets exactly right;
#  3. compile the same model to a decode program and let the trained
#     checkpoint complete a few sums through its KV cache.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
bundle=tests/golden/classic-gqa
mkdir -p build/demo

echo "== 1. a forward pass, checked against the reference =="
build/bin/gptc compile "$bundle" --emit=config
build/bin/gptc compile "$bundle" --batch 2 --seq 16 -o build/demo/forward
build/demo/forward --weights "$bundle/weights.safetensors" --data "$bundle/golden.safetensors"
build/bin/gptc verify "$bundle"

echo "== 2. training models/tiny.toml on task:add =="
build/bin/gptc explain models/tiny.toml --batch 4 --seq 256
build/bin/gptc compile models/tiny.toml --mode=train -o build/demo/train_tiny
rm -rf build/demo/runs
build/demo/train_tiny --data task:add --steps ${DEMO_STEPS:-600} --batch 8 \
  --eval-every 200 --log-every 50 --out build/demo/runs/add
python3 scripts/plot_metrics.py build/demo/runs/add/metrics.jsonl

echo "== 3. decoding with the trained checkpoint =="
build/bin/gptc compile models/tiny.toml --mode=decode -o build/demo/decode_tiny
# Each problem of the training text follows a newline, so the prompts do too.
for prompt in "12+34=" "205+17=" "9+90=" "48+152=" "7+5=" "300+400="; do
  answer=$(build/demo/decode_tiny --weights build/demo/runs/add/model.safetensors \
    --prompt $'\n'"$prompt" --max-tokens 8 --temperature 0 --quiet 2>/dev/null)
  echo "$prompt${answer%%$'\n'*}   (expected $((${prompt%=})))"
done
