"""Files that every pytest-xdist worker of one run shares (`make test` runs two workers): the first worker
to need an export makes it under a lock and the others wait and read it, so nothing large is made twice."""
import dataclasses
import json
import os
from pathlib import Path
from typing import Callable

from filelock import FileLock


def run_folder(tmp_path_factory, name: str) -> Path:
    """A folder of this run shared by its workers: a worker's base temp is a child of the run's."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / name
    root.mkdir(exist_ok=True)
    return root


def made_once(path, make: Callable[[str], object]) -> str:
    """`path`, made by make(path) unless a worker of this run has made it already."""
    path = str(path)
    with FileLock(path + ".lock"):
        if not os.path.exists(path):
            make(path)
    return path


def result_made_once(path, make: Callable[[str], object], result_type):
    """make(path)'s result dataclass too: kept as JSON beside the file for the workers that did not make it."""
    record = str(path) + ".result.json"

    def make_and_record(out: str) -> None:
        fields = dataclasses.asdict(make(out))
        Path(record).write_text(json.dumps(fields, default=lambda b: b.decode()))  # bytes: plugin attributes

    made_once(path, make_and_record)
    return result_type(**json.loads(Path(record).read_text()))
