"""`mrcnn-edge eval`: COCO box, mask and keypoint AP of model artifacts on a COCO-format set, side by side.

The first artifact is the reference (normally the PyTorch checkpoint in torchvision eager); every
other row states its AP and the difference from it (ΔAP, in AP points x100 as COCO tables do).
Without --data the set is the synthetic val set (the figures' for a keypoint model), written to disk on
demand and read like any other.
Each image is decoded by the toolkit's image reader and letterboxed like a live frame, so images of
any size are evaluated; one that cannot be read is skipped and named (an error with `strict`).
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

from tqdm import tqdm

from ..errors import UserError
from ..keypoint_layout import KeypointLayout
from ..images import read_image, skipped_lines
from .categories import match_categories
from .coco_eval import APResult, PredictFn, coco_ap, evaluator_name, results_of
from .dataset import CocoDataset, load_dataset, synthetic_val_dataset


@dataclass
class EvalResult:
    rows: list[tuple[str, str, APResult]]  # (model label, artifact path, AP)
    dataset: str
    evaluator: str
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (image file, why)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        ref = self.rows[0][2]
        lines = [f"{ref.num_images} images of {self.dataset}, {self.evaluator} (AP x100; ΔAP against the first row)",
                 format_table(self.rows)]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines + skipped_lines(self.skipped))


CHECKPOINT_SUFFIXES = (".pth", ".pt", ".safetensors", ".pkl")  # .pkl: detectron2 model-zoo files


class Loaded(NamedTuple):
    """An artifact ready to evaluate."""
    label: str
    predict: PredictFn
    classes: list[str]
    input_size: tuple[int, int] | None
    keypoint_layout: KeypointLayout | None  # keypoint models only


def predictor_for(path: str | None, input_size: tuple[int, int] | None = None, backend: str = "auto",
                  plugin_impl: str | None = None) -> Loaded:
    """The Loaded artifact for a checkpoint (.pth/.pt/.safetensors: torchvision eager, on frames letterboxed to input_size when given) or a deploy artifact (.onnx, .trt.onnx,
    fp16, int8, .engine, triton://) on `backend` (plugin nodes on `plugin_impl`)."""
    from ..model.zoo import default_checkpoint

    path = path or default_checkpoint()
    if path.endswith(CHECKPOINT_SUFFIXES):
        from ..model.checkpoint import load_model
        from ..model.eager import EagerPredictor

        model, ckpt = load_model(path)
        return Loaded("pytorch eager", EagerPredictor(model, input_size=input_size), ckpt.classes, input_size,
                      ckpt.keypoint_layout)
    from ..model.eager import Prediction
    from ..runtime.predictor import Predictor

    predictor = Predictor.from_path(path, backend=backend, plugin_impl=plugin_impl)

    def predict(frame):
        d = predictor(frame)
        return Prediction(d.boxes, d.scores, d.classes, d.masks, d.keypoints, d.keypoint_scores)

    return Loaded(f"{predictor.backend_name} {predictor.precision}", predict, predictor.class_names,
                  predictor.input_size, predictor.keypoint_layout)


def _readable(dataset: CocoDataset, images: list[dict], strict: bool, skipped: list) -> list[dict]:
    """The image entries whose file decodes at the size the annotations give; the others go to
    skipped as (file, why), or raise with strict. Decoded here once only to check them."""
    keep = []
    for image in tqdm(images, desc="check images", unit="img", leave=False, disable=len(images) < 50):
        path = dataset.path_of(image)
        try:
            h, w = read_image(path).shape[:2]
            if (h, w) != (image["height"], image["width"]):
                raise UserError(f"{path} is {h}x{w} as viewers show it, its annotations say "
                                f"{image['height']}x{image['width']}: fix the file or the annotations")
        except UserError as e:
            if strict:
                raise
            skipped.append((path, str(e)))
            continue
        keep.append(image)
    return keep


def _plugin_impls(paths: list[str | None], plugin_impl: str | None) -> list[str | None]:
    """plugin_impl for the paths that are plugin graphs (model.trt.onnx), None for the others; an error when
    plugin_impl is asked for and no path has plugin nodes."""
    from ..runtime.backends.plugin_graph_backend import has_plugin_nodes

    if plugin_impl is None:
        return [None] * len(paths)
    impls = [plugin_impl if p and p.endswith(".onnx") and os.path.isfile(p) and has_plugin_nodes(p) else None
             for p in paths]
    if not any(impls):
        raise UserError("--plugin-impl chooses how plugin nodes run, and no --model has any: add a model.trt.onnx "
                        "(`mrcnn-edge surgery`), or drop --plugin-impl")
    return impls


def _predictors(paths: list[str | None], backend: str = "auto", plugin_impl: str | None = None) -> list:
    """predictor_for of each path. Deploy artifacts load first: checkpoints then run at the first one's
    input size, letterboxed like it, so a row's ΔAP is the artifact's and not a different resize's."""
    impls = _plugin_impls(paths, plugin_impl)
    loaded = {i: predictor_for(p, backend=backend, plugin_impl=impls[i]) for i, p in enumerate(paths)
              if p and not p.endswith(CHECKPOINT_SUFFIXES)}
    size = next((v.input_size for v in loaded.values()), None)
    return [loaded[i] if i in loaded else predictor_for(p, size) for i, p in enumerate(paths)]


def evaluate_dataset(paths: list[str | None], dataset: CocoDataset, num_images: int | None = None, *,
                     ignore_unmatched: bool = False, strict: bool = False, evaluator: str | None = None,
                     name: str | None = None, predictors: list | None = None) -> EvalResult:
    """AP of each artifact on the first num_images of dataset (all when None); predictors: the
    artifacts' predictor_for results where already loaded."""
    evaluator = evaluator_name(evaluator)
    predictors = predictors or _predictors(paths)
    skipped: list[tuple[str, str]] = []
    images = _readable(dataset, dataset.images(num_images), strict, skipped)
    if not images:
        raise UserError(f"no image of {dataset.images_dir} could be read"
                        + (f" ({len(skipped)} skipped; first: {skipped[0][1]})" if skipped else ""))
    image_ids = [img["id"] for img in images]
    rows, notes = [], []
    # every model's classes are matched before any runs: a naming mistake fails at once, not after an hour
    mappings = [match_categories(p.classes, dataset.categories, ignore_unmatched) for p in predictors]
    sigmas = [keypoint_sigmas(dataset, p.keypoint_layout) for p in predictors]
    for path, (label, predict, *_), mapping, sigma in zip(paths, predictors, mappings, sigmas):
        notes += [f"{os.path.basename(path or 'shipped checkpoint')}: {n}" for n in mapping.notes]
        results = []
        for image in tqdm(images, desc=label, unit="img"):
            prediction = predict(read_image(dataset.path_of(image)))
            results += results_of(image["id"], *prediction, to_dataset=mapping.to_dataset)
        ap = coco_ap(dataset.gt, results, image_ids, mapping.category_ids, evaluator, keypoint_sigmas=sigma)
        rows.append((label, path or "shipped checkpoint", ap))
    return EvalResult(rows, name or os.path.basename(dataset.annotations), evaluator, skipped, notes)


def keypoint_sigmas(dataset: CocoDataset, layout: KeypointLayout | None) -> list[float] | None:
    """The OKS sigmas of a keypoint model's evaluation: the set's own (its category's "sigmas"), else the
    model's layout's, else COCO's for its 17 person keypoints (None: pycocotools' own). A UserError when the
    set has no keypoints of the model's count."""
    if layout is None:
        return None
    counts = {len(c["keypoints"]) for c in dataset.categories if c.get("keypoints")}
    if layout.num_keypoints not in counts:
        have = f"categories with {', '.join(map(str, sorted(counts)))} keypoints" if counts else "no keypoint annotations"
        raise UserError(f"{dataset.annotations} has {have}, the model predicts {layout.num_keypoints}: pass a COCO "
                        "person-keypoints file (person_keypoints_*.json) of the model's layout")
    own = next((c["sigmas"] for c in dataset.categories if len(c.get("sigmas") or ()) == layout.num_keypoints), None)
    sigmas = own or layout.sigmas
    if sigmas is None and layout.num_keypoints != 17:
        raise UserError(f"no OKS sigmas for the model's {layout.num_keypoints} keypoints: add a \"sigmas\" list to "
                        f"the category in {dataset.annotations}")
    return None if sigmas is None else list(sigmas)


def evaluate_artifacts(paths: list[str | None], num_images: int,
                       backend: str = "auto") -> list[tuple[str, str, APResult]]:
    """(label, path, AP) rows of each artifact on the first num_images synthetic val images."""
    return evaluate_dataset(paths, synthetic_val_dataset(num_images), num_images, name="the synthetic val set",
                            predictors=_predictors(paths, backend)).rows


TASK_COLUMNS = (("box", "box_ap"), ("mask", "mask_ap"), ("keypoint", "keypoint_ap"))  # table column groups


def format_table(rows: list[tuple[str, str, APResult]]) -> str:
    """One markdown row per artifact: AP, AP50, AP75 and ΔAP of each task some model has."""
    ref = rows[0][2]
    tasks = [(name, field) for name, field in TASK_COLUMNS if any(getattr(r, field) is not None for _, _, r in rows)]
    header = "| model | artifact | " + " | ".join(f"{name} AP | AP50 | AP75 | ΔAP {name}" for name, _ in tasks) + " |"
    lines = [header, "|---|---|" + "---|" * 4 * len(tasks)]
    for label, path, r in rows:
        cells = []
        for _, field in tasks:
            ap, ap50, ap75, base = (getattr(r, field), getattr(r, field + "50"), getattr(r, field + "75"),
                                    getattr(ref, field))
            cells += ["–"] * 4 if ap is None else [f"{100 * ap:.1f}", f"{100 * ap50:.1f}", f"{100 * ap75:.1f}",
                                                   "–" if base is None else f"{100 * (ap - base):+.1f}"]
        lines.append(f"| {label} | {os.path.basename(path)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def evaluate_cli(paths: list[str] | None, num_images: int | None = None, out_json: str | None = None, *,
                 data: str | None = None, images: str | None = None, ignore_unmatched: bool = False,
                 strict: bool = False, evaluator: str | None = None, backend: str = "auto",
                 plugin_impl: str | None = None) -> str:
    """AP of each artifact (default: the shipped checkpoint) on --data/--images, else on the synthetic
    val set (200 images unless num_images says otherwise)."""
    if (data is None) != (images is None):
        raise UserError("pass --data ANNOTATIONS.json and --images DIR together (or neither, for the synthetic set)")
    paths = paths or [None]
    evaluator_name(evaluator)
    # before any data is read or written: a bad model fails at once
    predictors = _predictors(paths, backend, plugin_impl)
    if data:
        dataset, name = load_dataset(data, images), os.path.basename(data)
    else:
        num_images = num_images or 200
        kind = "figures" if predictors[0].keypoint_layout is not None else "shapes"
        dataset, name = synthetic_val_dataset(num_images, kind), "the synthetic val set" if kind == "shapes" else f"the synthetic {kind} val set"
    result = evaluate_dataset(paths, dataset, num_images, ignore_unmatched=ignore_unmatched, strict=strict,
                              evaluator=evaluator, name=name, predictors=predictors)
    if out_json:
        with open(out_json, "w") as f:
            json.dump([{"model": label, "artifact": path, **asdict(r)} for label, path, r in result.rows], f, indent=2)
    return result.summary()
