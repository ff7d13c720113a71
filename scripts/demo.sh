#!/usr/bin/env bash
# The demo: build gptc, compile the bundled classic GQA model (2 layers, 4
# query heads over 2 key/value heads) to a forward-pass program, run it on the
# bundled weights and batch, then let `gptc verify` check logits and loss
# against the float64 reference.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
bundle=tests/golden/classic-gqa
mkdir -p build/demo
echo "== the model =="
build/bin/gptc compile "$bundle" --emit=config
echo "== compile it (B=2, T=16) =="
build/bin/gptc compile "$bundle" --batch 2 --seq 16 -o build/demo/forward
echo "== run the forward pass on the bundled weights =="
build/demo/forward --weights "$bundle/weights.safetensors" --data "$bundle/golden.safetensors"
echo "== verify against the float64 reference =="
build/bin/gptc verify "$bundle"
