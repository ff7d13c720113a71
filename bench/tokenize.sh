#!/usr/bin/env bash
# Tokenizer speed of `gptc tokenize` against tiktoken, one thread each, on
# the same ~10 MB of text, in one run. The text is this repository's docs and
# sources plus a multilingual paragraph, repeated to 10 MB; the tokenizer is
# a nanochat-style BPE (nanochat's split pattern, 1000 merges learned from a
# 300 kB sample of that text by tests/tools/make_tokenizer.py, pickled as
# tokenizer.pkl). Both encode every document with <|bos|> before it; the
# script checks that the ids are identical and prints both tokens/s and the
# ratio. Not a test: numbers move with the machine's load.
#
# usage: bench/tokenize.sh   (needs build/ and python3 with tiktoken:
#                             pip install tiktoken numpy)
set -euo pipefail
cd "$(dirname "$0")/.."
work=build/bench-tokenize
mkdir -p "$work"

python3 - "$work" <<'PY'
import glob, os, sys
work = sys.argv[1]
files = sorted(glob.glob("**/*.md", recursive=True) + glob.glob("**/*.cpp", recursive=True)
               + glob.glob("**/*.h", recursive=True) + glob.glob("**/*.py", recursive=True))
parts = [open(f, encoding="utf-8", errors="replace", newline="").read() for f in files
         if not f.startswith("build")]
sys.path.insert(0, "tests/tools")
import make_tokenizer
base = make_tokenizer.CORPUS + "".join(parts)
with open(os.path.join(work, "sample.txt"), "w", encoding="utf-8", newline="") as f:
    f.write(base[:300_000])
text = (base * (10_000_000 // len(base) + 1))[:10_000_000]
with open(os.path.join(work, "corpus.txt"), "w", encoding="utf-8", newline="") as f:
    f.write(text)
PY
if [ ! -f "$work/tok/tokenizer.pkl" ]; then
  python3 tests/tools/make_tokenizer.py --out "$work/tok" --merges 1000 \
    --train-file "$work/sample.txt" --random-cases 0 > /dev/null
fi

echo "== gptc tokenize (1 thread) =="
OMP_NUM_THREADS=1 build/bin/gptc tokenize --tokenizer "$work/tok/tokenizer.pkl" \
  --input "$work/corpus.txt" -o "$work/gptc.bin" --force 2>/dev/null | tee "$work/gptc.txt"
gptc_rate=$(sed -n 's/.*, \([0-9]*\) tokens\/s$/\1/p' "$work/gptc.txt")

echo "== tiktoken encode_ordinary (1 thread) =="
python3 - "$work" "$gptc_rate" <<'PY'
import pickle, sys, time
import numpy as np
work, gptc_rate = sys.argv[1], float(sys.argv[2])
enc = pickle.load(open(f"{work}/tok/tokenizer.pkl", "rb"))
text = open(f"{work}/corpus.txt", encoding="utf-8", newline="").read()
bos = enc.encode_single_token("<|bos|>")
best = 0.0
for _ in range(3):
    start = time.perf_counter()
    ids = [bos] + enc.encode_ordinary(text)
    best = max(best, len(ids) / (time.perf_counter() - start))
data = open(f"{work}/gptc.bin", "rb").read()
same = np.array_equal(np.frombuffer(data[12:], dtype="<u2"), np.asarray(ids, dtype=np.uint16))
print(f"{len(ids)} tokens, best of 3: {best:.0f} tokens/s")
print(f"\nids identical: {'yes' if same else 'NO'}")
print(f"gptc {gptc_rate:.0f} tokens/s, tiktoken {best:.0f} tokens/s: "
      f"gptc / tiktoken = {gptc_rate / best:.2f}x")
sys.exit(0 if same else 1)
PY
