#!/usr/bin/env python3
"""Planted bugs: each mutation is made in a copy of the kernel sources (the *_kernel.cu and the
per-element .cuh they include), the copy is built for the CPU execution layer and linked with the
pristine test program and references, and kernel_device_test --exact --quick must then fail. An
unmutated copy must pass (so a failure means the mutation, not the harness). Exit 1 if any
mutation survives, any original text is not found exactly once, or a mutant does not compile.

    kernel_mutations.py --plugins DIR --cxx C++ --std gnu++17 --link OBJ_OR_LIB ... --work DIR
"""
from __future__ import annotations

import argparse
import concurrent.futures
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROI = "multilevel_roi_align/multilevel_roi_align_kernel.cu"
ROI_MATH = "multilevel_roi_align/multilevel_roi_align.cuh"
NMS = "batched_nms/batched_nms_kernel.cu"


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str
    edits: tuple[tuple[str, str], ...]  # (original text, replacement), each original found exactly once


MUTATIONS = [
    Mutation("missing barrier (greedy NMS: no __syncthreads after each kept box)", NMS,
             (("        ++kept;\n        __syncthreads();", "        ++kept;"),)),
    Mutation("off-by-one in the element mapping (RoIAlign pw)", ROI,
             (("static_cast<int32_t>(i % args.outW)", "static_cast<int32_t>((i + 1) % args.outW)"),)),
    Mutation("wrong FPN level (RoIAlign levels shifted by one)", ROI,
             (("args.canonicalLevel, args.kMin, args.kMax)", "args.canonicalLevel, args.kMin + 1, args.kMax)"),)),
    Mutation("batch index dropped (RoIAlign reads image 0's maps)", ROI,
             (("(static_cast<int64_t>(b) * args.channels + c)", "(static_cast<int64_t>(0) * args.channels + c)"),)),
    Mutation("batch index dropped (NMS reads image 0's sorted list)", NMS,
             (("int64_t const in = static_cast<int64_t>(b) * args.numBoxes;", "int64_t const in = 0;"),)),
    Mutation("workspace overlap (CUB's temporary storage on the sorted values)", NMS,
             (("w.cubTemp = take(cubBytes);", "w.cubTemp = w.valuesOut;\n    take(cubBytes);"),)),
    Mutation("unwritten output slot (NMS padding stops one slot short)", NMS,
             (("for (int32_t s = threadIdx.x; s < K; s += blockDim.x)",
               "for (int32_t s = threadIdx.x; s < K - 1; s += blockDim.x)"),)),
    Mutation("wrong grid-stride increment (RoIAlign)", ROI,
             (("i += static_cast<int64_t>(gridDim.x) * blockDim.x)",
               "i += static_cast<int64_t>(gridDim.x) * blockDim.x + 1)"),)),
    Mutation("wrong grid-stride increment (NMS preparation)", NMS,
             (("i < n; i += gridDim.x * blockDim.x)", "i < n; i += gridDim.x * blockDim.x + 1)"),)),
    Mutation("fp16 accumulating in half (RoIAlign bin sum)", ROI_MATH,
             (("float sum = 0.F; // FP32 accumulation, also for FP16 inputs", "T sum = static_cast<T>(0.F);"),
              ("sum += t.w[0] * static_cast<float>(plane[t.pos[0]])",
               "sum = static_cast<T>(static_cast<float>(sum) + (t.w[0] * static_cast<float>(plane[t.pos[0]])"),
              ("+ t.w[3] * static_cast<float>(plane[t.pos[3]]);", "+ t.w[3] * static_cast<float>(plane[t.pos[3]])));"),
              ("return sum / g.count;", "return static_cast<float>(sum) / g.count;"))),
    Mutation("block vote miscounted (__syncthreads_or for __syncthreads_count)", NMS,
             (("count += __syncthreads_count(", "count += __syncthreads_or("),)),
    Mutation("aligned ignored (RoIAlign half-pixel offset dropped)", ROI,
             (("args.outW, args.samplingRatio, args.aligned);", "args.outW, args.samplingRatio, false);"),)),
]

KERNELS = ["cpu_exec/kernels/multilevel_roi_align_kernel.cpp", "cpu_exec/kernels/batched_nms_kernel.cpp"]


def mutate(plugins: Path, tree: Path, mutation: Mutation | None) -> None:
    shutil.copytree(plugins, tree / "plugins", dirs_exist_ok=True)
    for original, replacement in (mutation.edits if mutation else ()):
        path = tree / "plugins" / mutation.file
        text = path.read_text()
        if text.count(original) != 1:
            raise SystemExit(f"kernel_mutations: {mutation.name}: {original!r} occurs {text.count(original)} times "
                             f"in {mutation.file} (the kernel changed: update the mutation)")
        path.write_text(text.replace(original, replacement))


def build(args, tree: Path) -> tuple[Path | None, str]:
    src = tree / "plugins"
    flags = [f"-std={args.std}", "-O2", "-ffp-contract=off", f"-I{src}", f"-I{src / 'common'}",
             f"-I{src / 'cpu_exec' / 'include'}"]
    objects = []
    for kernel in KERNELS:
        obj = tree / (Path(kernel).stem + ".o")
        done = subprocess.run([args.cxx, *flags, "-c", str(src / kernel), "-o", str(obj)], capture_output=True, text=True)
        if done.returncode != 0:
            return None, done.stderr[-2000:]
        objects.append(str(obj))
    exe = tree / "kernel_cpu_test"
    link = [args.cxx, *objects, *args.link, "-o", str(exe), "-pthread"]
    done = subprocess.run(link, capture_output=True, text=True)
    return (exe, "") if done.returncode == 0 else (None, done.stderr[-2000:])


def run(args, index: int, mutation: Mutation | None) -> tuple[Mutation | None, str, str]:
    """-> (mutation, verdict, detail): verdict is caught | survived | passed | broken."""
    tree = Path(args.work) / f"mutant_{index}"
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    mutate(Path(args.plugins), tree, mutation)
    exe, errors = build(args, tree)
    if exe is None:
        return mutation, "broken", errors
    done = subprocess.run([str(exe), "--iterations", "0", "--exact", "--quick", "--fail-fast"],
                          capture_output=True, text=True, timeout=600)
    failed = re.search(r"^FAILED: (.*)$", done.stdout, re.M)
    if mutation is None:
        return None, "passed" if done.returncode == 0 else "broken", done.stdout[-2000:]
    if done.returncode == 0:
        return mutation, "survived", "every case passed"
    if failed:
        detail = failed.group(1)
    elif done.returncode < 0:
        detail = f"crashed (signal {-done.returncode}) in case: {_last_case(done.stdout)}"
    else:
        detail = f"exit {done.returncode}: {done.stdout[-300:]}{done.stderr[-300:]}"
    return mutation, "caught", detail


def _last_case(stdout: str) -> str:
    """The case running when the program died: the line after the last one it printed."""
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    return lines[-1] if lines else "(before the first case)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plugins", required=True)
    parser.add_argument("--cxx", required=True)
    parser.add_argument("--std", default="gnu++17")
    parser.add_argument("--link", action="append", default=[], help="objects/libraries (';'-separated lists too)")
    parser.add_argument("--work", required=True)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    args.link = [p for item in args.link for p in item.split(";") if p]
    jobs = [None, *MUTATIONS]
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda job: run(args, *job), enumerate(jobs)))
    ok = True
    print("| mutation | file | verdict | caught by (first failing case) |\n|---|---|---|---|")
    for mutation, verdict, detail in results:
        if mutation is None:
            print(f"| (none: the unmutated copy) | | {verdict} | |")
            ok = ok and verdict == "passed"
            if verdict != "passed":
                print(detail)
            continue
        print(f"| {mutation.name} | {mutation.file} | {verdict} | {detail if verdict == 'caught' else ''} |")
        if verdict != "caught":
            ok = False
            print(detail)
    print("all mutations caught" if ok else "MUTATION TEST FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
