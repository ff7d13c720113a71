#!/usr/bin/env python3
"""Prints the loss curve of a gptc training run as text.

usage: scripts/plot_metrics.py runs/<name>/metrics.jsonl

Reads the JSON lines a training program writes (records with "loss" per
logged step, records with "val_loss" per evaluation) and draws the training
loss as a bar chart, one row per logged step, with the evaluations below.
"""
import json
import sys


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    steps, evals = [], []
    with open(sys.argv[1]) as f:
        for line in f:
            record = json.loads(line)
            if "val_loss" in record:
                evals.append(record)
            elif "loss" in record:
                steps.append((record["step"], record["loss"]))
    if not steps:
        sys.exit(f"{sys.argv[1]}: no training records")
    top = max(loss for _, loss in steps)
    width = 60
    print(f"training loss (bar = loss / {top:.3f})")
    for step, loss in steps:
        bar = "#" * max(1, round(width * loss / top))
        print(f"  step {step:6d}  {loss:7.4f}  {bar}")
    for record in evals:
        extra = ""
        if "task_accuracy" in record:
            extra = f"  task accuracy {100 * record['task_accuracy']:.1f}%"
        print(f"  eval step {record['step']:6d}  val loss {record['val_loss']:.4f}{extra}")


if __name__ == "__main__":
    main()
