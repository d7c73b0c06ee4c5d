"""MkDocs hook: serve some of the repository's own files as pages under repo/, at their repository paths.

The measured numbers live in benchmarks/results/ and the stage notes in READMEs beside their code. The docs
link them (repo/benchmarks/results/accuracy.md) instead of copying their numbers, and `mkdocs build --strict`
then fails on a link to a file that is gone, as it does for any page. Only files whose own links resolve
inside this set are listed (plugins/deepstream/README.md links back into docs/, so it is left out).
"""
from __future__ import annotations

import glob
import os

from mkdocs.structure.files import File, InclusionLevel

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PATTERNS = (
    "benchmarks/results/*.md",
    "benchmarks/results/*.json",
    "benchmarks/results/*.png",  # train_new_domain.md's curves
    "calibration/*.md",
    "plugins/README.md",
    "plugins/batched_nms/README.md",
    "plugins/multilevel_roi_align/README.md",
    "plugins/cpu_exec/README.md",
    "mrcnn_edge/weights/README.md",
)


def on_files(files, config):
    for pattern in PATTERNS:
        for path in sorted(glob.glob(os.path.join(REPO, pattern))):
            rel = os.path.relpath(path, REPO).replace(os.sep, "/")
            # NOT_IN_NAV: reached by links, not listed in the nav (a docs page left out of it still fails)
            files.append(File.generated(config, f"repo/{rel}", abs_src_path=path, inclusion=InclusionLevel.NOT_IN_NAV))
    return files
