#!/usr/bin/env python3
"""Trains a tiny nanochat-style BPE tokenizer and records tiktoken's ids.

Writes into --out:

    tokenizer.pkl       pickle.dump of a tiktoken.Encoding, as nanochat's
                        RustBPETokenizer.save writes tokenizer.pkl: nanochat's
                        split pattern, 256 byte ranks + --merges merges, and
                        nanochat's 9 special tokens numbered after them
    tokenizer.tiktoken  the same ranks in tiktoken's base64 rank-file format
    cases.json          [{"text": ..., "ids": encode_ordinary(text)}, ...]
                        for hand-picked hard cases (CJK, emoji ZWJ
                        sequences, combining marks, capitalised contractions,
                        digit runs, CRLF, whitespace runs, NUL and control
                        characters, special-token text) and seeded random
                        strings drawn from many scripts

The merges are learned with a plain BPE loop (most frequent pair, ties to the
smallest pair) over the pattern's chunks of a small built-in multilingual
text, so that merges cover multi-byte characters too. With --merges 55 the
vocabulary is 320, the vocabulary of tests/e2e/Inputs/nanochat-d2.

    pip install tiktoken
    python3 tests/tools/make_tokenizer.py --out tests/e2e/Inputs/tokenizer

A dev tool: its output is committed as data and the tests never run it.
"""

import argparse
import base64
import collections
import json
import os
import pickle
import random

import regex
import tiktoken

# nanochat's split pattern: GPT-4's with digit runs split in groups of 1-2.
SPLIT_PATTERN = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,2}|"""
                 r""" ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+""")
SPECIAL_TOKENS = ["<|bos|>", "<|user_start|>", "<|user_end|>", "<|assistant_start|>",
                  "<|assistant_end|>", "<|python_start|>", "<|python_end|>",
                  "<|output_start|>", "<|output_end|>"]

CORPUS = """
The quick brown fox jumps over the lazy dog. The dog doesn't mind; it's lazy.
We'll see what they've said: you're the one who'd know. THE END, I'M SURE.
In 2024 there were 1234567 tokens, 3.14159 of them irrational, 42 of them true.
Hello, world! Hello again, world. hello hello hello the the the and and and
def main():\n    return print("hello world")\r\n\r\n    x = [1, 2, 3]\n
你好世界，今天天气很好。我们在学习。日本語のテキストもあります。こんにちは。
한국어 문장도 있습니다. Привет, мир! Как дела? Γειά σου κόσμε. مرحبا بالعالم
Café, naïve, résumé, coöperate, São Paulo, Zürich, Ærøskøbing, façade.
Emoji: 😀 👍🏽 👩‍👩‍👧‍👦 🏳️‍🌈 ❤️ — and more text after the emoji; done.
"""

HARD_CASES = [
    "",
    "hello world",
    "Hello, World! HELLO world!!! hello   world",
    "I'M here, YOU'LL see, He's, she'D, they'VE, we'RE, it'S, don'T",
    "'s 'S 'll 'LL 've 'Ve 're 'rE 'd 'D 't 'T 'm 'M",
    "1 12 123 1234 12345 123456 3.14159 1,000,000 2024-01-01 x1y22z333",
    "٣٤٥ ١٢ ⅷ ½ ² ³ 𝟙𝟚𝟛",
    "你好世界，今天天气很好。",
    "日本語のテキスト、カタカナ、ひらがな。",
    "한국어 문장",
    "👩‍👩‍👧‍👦 family, 🏳️‍🌈 flag, 👍🏽 thumbs, ❤️ heart, 🇫🇷 France",
    "e\u0301 n\u0303 a\u0308 combining: cafe\u0301 Zu\u0308rich \u0301\u0301",
    "line one\r\nline two\r\n\r\nline three\n\n\nend\r",
    "a    b\t\t c   \n  d      \n\n   ",
    "   leading and trailing   ",
    "tabs\tand\u000bvertical\u000cforms",
    "\u0000nul\u0001\u0002\u007f control \u001b[0m \u0085nel",
    "non\u00a0breaking\u2009thin\u3000ideographic\u2028line\u2029para",
    "<|bos|> special tokens are text here <|user_start|>hi<|user_end|>",
    "def f(x):\n    return x**2 + 1  # comment\n\n\tpass",
    "!!!??? ... --- *** ((( ))) [[[ ]]] {{{ }}} @#$%^&",
    "Привет, мир! Γειά σου κόσμε. مرحبا بالعالم שלום עולם",
    "x" * 300,
    " " * 50 + "x",
    "\n" * 20,
    "a\u200db\u200cc\ufeffd",
]

# Code-point ranges the random strings draw from.
RANGES = [(0x20, 0x7E), (0x00, 0x1F), (0xA0, 0xFF), (0x300, 0x36F), (0x391, 0x3C9),
          (0x410, 0x44F), (0x5D0, 0x5EA), (0x620, 0x64A), (0x660, 0x669), (0x900, 0x97F),
          (0x3040, 0x30FF), (0x4E00, 0x4E80), (0xAC00, 0xAC40), (0x2000, 0x206F),
          (0x1F300, 0x1F64F), (0x1F900, 0x1F9FF), (0xFE00, 0xFE0F), (0x200D, 0x200D),
          (0x85, 0x85), (0x1D7CE, 0x1D7FF)]


def train(text, merges):
    """Byte-level BPE over the pattern's chunks; returns {bytes: rank}."""
    words = collections.Counter(m.encode("utf-8") for m in regex.findall(SPLIT_PATTERN, text))
    seqs = {w: [bytes([b]) for b in w] for w in words}
    ranks = {bytes([b]): b for b in range(256)}
    for i in range(merges):
        pairs = collections.Counter()
        for w, n in words.items():
            s = seqs[w]
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] += n
        if not pairs:
            raise SystemExit("make_tokenizer.py: corpus too small for the merges")
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        merged = best[0] + best[1]
        ranks[merged] = 256 + i
        for w in words:
            s, out, j = seqs[w], [], 0
            while j < len(s):
                if j + 1 < len(s) and (s[j], s[j + 1]) == best:
                    out.append(merged)
                    j += 2
                else:
                    out.append(s[j])
                    j += 1
            seqs[w] = out
    return ranks


def random_strings(count, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        chars = []
        for _ in range(rng.randint(1, 40)):
            lo, hi = rng.choice(RANGES)
            cp = rng.randint(lo, hi)
            chars.append(chr(cp) * rng.choice([1, 1, 1, 2, 5]))
        out.append("".join(chars))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--merges", type=int, default=55)
    parser.add_argument("--random-cases", type=int, default=150)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--train-file", help="learn the merges from this UTF-8 text "
                        "instead of the built-in one")
    args = parser.parse_args()

    text = CORPUS * 3
    if args.train_file:
        with open(args.train_file, encoding="utf-8", newline="") as f:
            text = f.read()
    ranks = train(text, args.merges)
    specials = {name: len(ranks) + i for i, name in enumerate(SPECIAL_TOKENS)}
    enc = tiktoken.Encoding(name="rustbpe", pat_str=SPLIT_PATTERN,
                            mergeable_ranks=ranks, special_tokens=specials)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "tokenizer.pkl"), "wb") as f:
        pickle.dump(enc, f)
    with open(os.path.join(args.out, "tokenizer.tiktoken"), "wb") as f:
        for token, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
            f.write(base64.b64encode(token) + b" " + str(rank).encode() + b"\n")

    cases = []
    for text in HARD_CASES + random_strings(args.random_cases, args.seed):
        ids = enc.encode_ordinary(text)
        assert enc.decode(ids) == text
        cases.append({"text": text, "ids": ids})
    with open(os.path.join(args.out, "cases.json"), "w") as f:
        f.write("[\n" + ",\n".join(json.dumps(c, ensure_ascii=True) for c in cases) + "\n]\n")
    print(f"{args.out}: vocab {enc.n_vocab}, {len(cases)} cases")


if __name__ == "__main__":
    main()
