"""Model classes <-> dataset categories, matched by name (case-insensitive), never by position."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import UserError
from ..model.class_names import UNUSED

_SHOWN = 12  # names listed per side in the error line


@dataclass
class CategoryMap:
    to_dataset: dict[int, int]  # model class id (1-based) -> dataset category id
    category_ids: list[int]  # the dataset categories evaluated: those the model has
    notes: list[str] = field(default_factory=list)


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "") if names else "none"


def match_categories(class_names: list[str], categories: list[dict], ignore_unmatched: bool = False) -> CategoryMap:
    """Match class c (class_names[c-1]) to the dataset category of the same name. A model class with no
    such category is an error unless ignore_unmatched (its detections are then dropped); dataset
    categories the model lacks are left out of the AP, with a note naming them."""
    by_name = {c["name"].strip().lower(): c["id"] for c in categories}
    model = {c: n.strip().lower() for c, n in enumerate(class_names, start=1) if n != UNUSED}
    to_dataset = {c: by_name[n] for c, n in model.items() if n in by_name}
    model_only = [class_names[c - 1] for c in model if c not in to_dataset]
    dataset_only = [c["name"] for c in categories if c["id"] not in to_dataset.values()]
    if not to_dataset or (model_only and not ignore_unmatched):
        raise UserError(f"the model's class names do not match the dataset's category names: model only: "
                        f"{_names(model_only)}; dataset only: {_names(dataset_only)} (model: "
                        f"{_names([class_names[c - 1] for c in model])}; dataset: {_names([c['name'] for c in categories])})"
                        ": name the classes with `mrcnn-edge export --classes`"
                        + ("" if not to_dataset else ", or pass --ignore-unmatched to drop the model-only ones"))
    notes = []
    if model_only:
        notes.append(f"model classes not in the dataset, detections dropped: {_names(model_only)}")
    if dataset_only:
        notes.append(f"dataset categories the model lacks, left out of the AP: {_names(dataset_only)}")
    return CategoryMap(to_dataset, sorted(set(to_dataset.values())), notes)
