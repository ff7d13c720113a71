#!/usr/bin/env python3
"""ptxas gates for gptc's CUDA kernels (no GPU needed).

Compiles each CUDA source of the runtime for every target architecture with
`ptxas -v`, and checks every kernel against backends/cuda/KernelBudgets.json:
no spills, no stack frame (local memory), registers and shared memory within
the kernel's budget; and that the PTX of the kernels holds the instructions
the design relies on (mma.sync in attention, ld.global.nc where inputs are
read through the read-only path). Prints one table row per kernel and
architecture; exits 1 naming every violation.

usage: check_ptxas.py --nvcc NVCC --source-dir DIR --budgets JSON
                      [--arch 80 --arch 90] [--markdown] SOURCE...
"""

import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import tempfile

ENTRY = re.compile(r"Compiling entry function '(\S+)' for '(sm_\d+a?)'")
FRAME = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, "
                   r"(\d+) bytes spill loads")
USED = re.compile(r"Used (\d+) registers")
SMEM = re.compile(r"(\d+) bytes smem")


def demangle(names):
    """Readable kernel names through c++filt (the mangled name if absent)."""
    try:
        out = subprocess.run(["c++filt"], input="\n".join(names), text=True,
                             capture_output=True, check=True).stdout
        return dict(zip(names, out.splitlines()))
    except (OSError, subprocess.CalledProcessError):
        return {name: name for name in names}


def compile_source(nvcc, source_dir, source, arch, workdir):
    """ptxas -v report and PTX text of one source for one architecture."""
    base = os.path.join(workdir, os.path.basename(source) + "." + arch)
    common = [nvcc, "-std=c++17", "-O3", "-I" + source_dir,
              "-arch=sm_" + arch, os.path.join(source_dir, source)]
    cubin = subprocess.run(
        common + ["-cubin", "-o", base + ".cubin",
                  "-Xptxas=-v,--warn-on-spills"],
        capture_output=True, text=True)
    ptx = subprocess.run(common + ["-ptx", "-o", base + ".ptx"],
                         capture_output=True, text=True)
    if cubin.returncode != 0 or ptx.returncode != 0:
        raise RuntimeError(f"nvcc failed on {source} for sm_{arch}:\n"
                           + cubin.stderr + ptx.stderr)
    with open(base + ".ptx") as f:
        return cubin.stderr, f.read()


def parse_report(report):
    """{mangled kernel: {registers, smem, stack, spill_stores, spill_loads}}."""
    kernels, current = {}, None
    warnings = []
    for line in report.splitlines():
        if m := ENTRY.search(line):
            current = m.group(1)
            kernels[current] = {"registers": 0, "smem": 0, "stack": 0,
                                "spill_stores": 0, "spill_loads": 0}
        elif current and (m := FRAME.search(line)):
            kernels[current].update(stack=int(m.group(1)),
                                    spill_stores=int(m.group(2)),
                                    spill_loads=int(m.group(3)))
        elif current and (m := USED.search(line)):
            kernels[current]["registers"] = int(m.group(1))
            if s := SMEM.search(line):
                kernels[current]["smem"] = int(s.group(1))
        if "warning" in line:
            warnings.append(line.strip())
    return kernels, warnings


def entry_ptx(ptx, mangled):
    """The PTX body of one .entry."""
    start = ptx.find(".entry " + mangled + "(")
    if start < 0:
        return ""
    end = ptx.find("\n}", start)
    return ptx[start:end]


def budget_for(budgets, name):
    """The first rule whose 'match' is in the demangled name, else default."""
    for rule in budgets["kernels"]:
        if rule["match"] in name:
            return {**budgets["default"], **rule}
    return dict(budgets["default"], match="(default)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nvcc", required=True)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--budgets", required=True)
    parser.add_argument("--arch", action="append")
    parser.add_argument("--markdown", action="store_true",
                        help="print the table as Markdown")
    parser.add_argument("sources", nargs="+")
    args = parser.parse_args()
    archs = args.arch or ["80", "90"]
    with open(args.budgets) as f:
        budgets = json.load(f)

    failures, rows, used_rules = [], [], set()
    with tempfile.TemporaryDirectory() as workdir, \
            concurrent.futures.ThreadPoolExecutor(2) as pool:
        jobs = {(s, a): pool.submit(compile_source, args.nvcc,
                                    args.source_dir, s, a, workdir)
                for s in args.sources for a in archs}
        for (source, arch), job in jobs.items():
            try:
                report, ptx = job.result()
            except RuntimeError as error:
                failures.append(str(error))
                continue
            kernels, warnings = parse_report(report)
            failures += [f"{source} sm_{arch}: {w}" for w in warnings]
            names = demangle(list(kernels))
            for mangled, stats in kernels.items():
                name = names[mangled]
                rule = budget_for(budgets, name)
                used_rules.add(rule["match"])
                where = f"{name} (sm_{arch}, {source})"
                if stats["spill_stores"] or stats["spill_loads"]:
                    failures.append(f"{where}: spills {stats['spill_stores']}"
                                    f"/{stats['spill_loads']} bytes")
                if stats["stack"] > rule["stack_bytes"]:
                    failures.append(f"{where}: {stats['stack']} bytes of "
                                    "stack frame (local memory) > budget "
                                    f"{rule['stack_bytes']}")
                if stats["registers"] > rule["registers"]:
                    failures.append(f"{where}: {stats['registers']} registers"
                                    f" > budget {rule['registers']}")
                if stats["smem"] > rule["shared_bytes"]:
                    failures.append(f"{where}: {stats['smem']} bytes of "
                                    f"shared memory > budget "
                                    f"{rule['shared_bytes']}")
                body = entry_ptx(ptx, mangled)
                for needle in rule.get("ptx_contains", []):
                    if needle not in body:
                        failures.append(f"{where}: PTX lacks '{needle}'")
                rows.append((name.split("(")[0], arch, stats["registers"],
                             rule["registers"], stats["smem"],
                             stats["spill_stores"] + stats["spill_loads"],
                             ", ".join(rule.get("ptx_contains", []))))
    for rule in budgets["kernels"]:
        if rule["match"] not in used_rules:
            failures.append(f"budget rule '{rule['match']}' matches no kernel")

    rows.sort()
    if args.markdown:
        # One line per kernel, the architectures side by side.
        merged = {}
        for r in rows:
            merged.setdefault(r[0], {})[r[1]] = r
        print("| kernel | registers " + " / ".join(f"sm_{a}" for a in archs)
              + " (budget) | static smem B | spills | PTX holds |")
        print("|---|---|---|---|---|")
        for name, by_arch in merged.items():
            first = next(iter(by_arch.values()))
            regs = " / ".join(str(by_arch[a][2]) if a in by_arch else "-"
                              for a in archs)
            spills = sum(r[5] for r in by_arch.values())
            print(f"| `{name.replace('void ', '')}` | {regs} ({first[3]}) | "
                  f"{first[4]} | {spills} | {first[6]} |")
    else:
        for r in rows:
            print(f"{r[0]:<70} sm_{r[1]}  regs {r[2]:>3}/{r[3]:<3} "
                  f"smem {r[4]:>6}  spills {r[5]}")
    for failure in failures:
        print("FAIL: " + failure, file=sys.stderr)
    print(f"{len(rows)} kernel builds checked, {len(failures)} violations")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
