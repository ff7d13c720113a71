"""Compares decode-step logits with a full forward pass (teacher forcing).

usage: teacher_forcing.py make <prompt.safetensors> <P> <N> <seed>
       teacher_forcing.py sequence <decode.safetensors> <prompt.safetensors> <batch.safetensors>
       teacher_forcing.py compare <decode.safetensors> <forward.safetensors> <P>

`make` writes a random prompt of P tokens (and N placeholder tokens: the
decode check generates as many); `sequence` writes the prompt followed by the
greedy tokens but the last, as the forward program's batch; `compare` checks
that step i's logits equal the forward logits at position P - 1 + i (within
1e-4) and that every greedy token is the argmax there.
"""
import random
import sys

import safetensors_io as st


def main():
    command = sys.argv[1]
    if command == "make":
        path, p, n, seed = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
        rng = random.Random(seed)
        prompt = [rng.randrange(256) for _ in range(p)]
        st.write_i64(path, {"decode.prompt": ([p], prompt), "decode.tokens": ([n], [0] * n)})
    elif command == "sequence":
        decode, prompt = st.read(sys.argv[2]), st.read(sys.argv[3])
        seq = prompt["decode.prompt"][1] + decode["tokens"][1][:-1]
        st.write_i64(sys.argv[4], {"tokens": ([1, len(seq)], seq),
                                   "targets": ([1, len(seq)], [-1] * len(seq))})
    elif command == "compare":
        decode, forward, p = st.read(sys.argv[2]), st.read(sys.argv[3]), int(sys.argv[4])
        (steps, vocab), step_logits = decode["step_logits"]
        tokens = decode["tokens"][1]
        full = forward["logits"][1]
        worst = 0.0
        for i in range(steps):
            row = full[(p - 1 + i) * vocab:(p + i) * vocab]
            got = step_logits[i * vocab:(i + 1) * vocab]
            worst = max(worst, max(abs(a - b) for a, b in zip(row, got)))
            assert tokens[i] == max(range(vocab), key=lambda v: row[v]), (i, tokens[i])
        print(f"{steps} steps: max |cached - teacher-forced| = {worst:.3e}")
        assert worst <= 1e-4, worst


if __name__ == "__main__":
    main()
