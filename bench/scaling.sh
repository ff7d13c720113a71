#!/usr/bin/env bash
# Data-parallel scaling of a training program on this machine, in one run so
# that every configuration sees the same load: tokens/s of 1 rank x 1 thread,
# 2 ranks x 1 thread (mpirun, one core each) and 1 rank x 2 threads, for the
# same global batch, with the share of the 2-rank step time spent in
# communication (waiting included). Not a test: numbers move with the
# machine's load.
#
# usage: bench/scaling.sh [model.toml] [steps] [batch]   (needs build/ and mpirun)
#        defaults: models/tiny.toml, 20 steps, --batch 16 (B = 4: two
#        micro-batches per rank on 2 ranks)
set -euo pipefail
cd "$(dirname "$0")/.."
toml=${1:-models/tiny.toml}
steps=${2:-20}
batch=${3:-16}
work=build/bench/scaling
mkdir -p "$work"
export OMP_WAIT_POLICY=PASSIVE
# Open MPI refuses to run as root unless told; CI and containers are root.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

build/bin/gptc compile "$toml" --mode=train --batch 4 -o "$work/train" > /dev/null
flags=(--data task:add --steps "$steps" --batch "$batch" --eval-every 100000
       --log-every 5)

run() { # name, then the command
  local name=$1
  shift
  rm -rf "$work/$name"
  "$@" "${flags[@]}" --out "$work/$name" > "$work/$name.log"
}
run r1t1 "$work/train" --threads 1
run r2t1 mpirun -np 2 --bind-to core --mca btl_vader_single_copy_mechanism none \
  "$work/train" --threads 1 < /dev/null
run r1t2 "$work/train" --threads 2

# The median over the progress lines after the first (which holds warm-up).
python3 - "$work" "$toml" "$steps" "$batch" <<'PY'
import json, statistics, sys
work, toml, steps, batch = sys.argv[1:]
def read(name):
    records = [json.loads(l) for l in open(f"{work}/{name}/metrics.jsonl")]
    records = [r for r in records if "tok_per_s" in r][1:]
    tok = statistics.median(r["tok_per_s"] for r in records)
    comm = [r["comm_share"] for r in records if "comm_share" in r]
    return tok, statistics.median(comm) if comm else None
base, _ = read("r1t1")
print(f"{toml}, --batch {batch}, {steps} steps (median of the progress lines after the first)")
print(f"{'configuration':<20} {'tok/s':>10} {'speed-up':>9} {'comm share':>11}")
for name, label in [("r1t1", "1 rank x 1 thread"), ("r2t1", "2 ranks x 1 thread"),
                    ("r1t2", "1 rank x 2 threads")]:
    tok, comm = read(name)
    share = f"{100 * comm:.1f}%" if comm is not None else "-"
    print(f"{label:<20} {tok:>10,.0f} {tok / base:>8.2f}x {share:>11}")
PY
