"""Derive mrcnn_edge/check/trt_operators.json from onnx-tensorrt's docs/operators.md.

    git --git-dir=<onnx-tensorrt>.git show 10.1-GA:docs/operators.md > /tmp/operators.md
    python tools/derive_trt_operators.py /tmp/operators.md --ref 10.1-GA --commit <sha> > mrcnn_edge/check/trt_operators.json

Keeps only what the checker needs: the opset range sentence, and per operator whether the parser supports
it and its supported types. Typos in the source table are normalised and listed under "normalised".
"""
from __future__ import annotations

import argparse
import json
import re

TYPO = {"INF64": "INT64"}  # 10.1-GA's ConstantOfShape row


def derive(markdown: str) -> dict:
    opset = re.search(r"opset (\d+) to opset (\d+)", markdown)
    operators, unsupported, normalised = {}, [], []
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not re.fullmatch(r"[A-Z][A-Za-z0-9]*", cells[0]) or cells[0] == "Operator":
            continue
        op, supported = cells[0], cells[1]
        if not supported.startswith("Y"):
            unsupported.append(op)
            continue
        types = []
        for t in (cells[2].split(",") if len(cells) > 2 else []):
            t = t.strip()
            if t in TYPO:
                normalised.append(f"{op}: {t} -> {TYPO[t]}")
                t = TYPO[t]
            if t and t not in types:
                types.append(t)
        operators[op] = types
    return {"opset": [int(opset[1]), int(opset[2])] if opset else None, "operators": operators,
            "unsupported": sorted(unsupported), "normalised": normalised}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("markdown")
    parser.add_argument("--ref", required=True)
    parser.add_argument("--commit", required=True)
    args = parser.parse_args()
    table = derive(open(args.markdown).read())
    source = {"repository": "onnx/onnx-tensorrt", "path": "docs/operators.md", "ref": args.ref, "commit": args.commit,
              "derived_by": "tools/derive_trt_operators.py"}
    print(json.dumps({"source": source, **table}, indent=1, sort_keys=False))


if __name__ == "__main__":
    main()
