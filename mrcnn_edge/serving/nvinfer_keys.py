"""nvinfer's configuration keys that export-deepstream writes, with the values nvinfer accepts, as data.

Sources (each key below says which it rests on):
- DOCS: Gst-nvinfer, "Gst-nvinfer File Configuration Specifications" (the [property] and [class-attrs-...]
  tables), https://docs.nvidia.com/metropolis/deepstream/dev-guide/text/DS_plugin_gst-nvinfer.html
- PARSER: the element's own config parser, NVIDIA/DeepStream v9.1.0 (identical in v9.0.0..v9.0.2)
  src/gst-plugins/gst-nvinfer/gstnvinfer_property_parser.{h,cpp}: the key spellings (CONFIG_GROUP_INFER_*)
  and the checks it makes (switch statements, range tests), and includes/nvdsinfer_context.h for the enums.
nvinfer reads every value with GLib's key-file getters (g_key_file_get_integer/boolean/double/*_list), so
the value grammar is GLib's: lists are separated by ';', booleans are true/false or 1/0.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

DOCS = "https://docs.nvidia.com/metropolis/deepstream/dev-guide/text/DS_plugin_gst-nvinfer.html"
PARSER = "NVIDIA/DeepStream v9.1.0 src/gst-plugins/gst-nvinfer/gstnvinfer_property_parser.cpp"
CONTEXT = "NVIDIA/DeepStream v9.1.0 includes/nvdsinfer_context.h"


@dataclass(frozen=True)
class Key:
    kind: str  # int | bool | float | string | path | int-list | float-list | string-list
    allowed: tuple = ()  # int: the accepted values; empty: any
    low: float | None = None  # numbers (and each list element): the accepted range, inclusive
    high: float | None = None
    length: tuple[int, int | None] | None = None  # lists: (min, max) elements; max None: no limit
    source: str = DOCS


NVDSINFER_MAX_BATCH_SIZE = 1024  # nvdsinfer_context.h; the parser refuses batch-size outside [1, 1024]
_MAX_CHANNELS = 4  # nvdsinfer_context.h; at most this many offsets

PROPERTY = {
    "gpu-id": Key("int", low=0),
    "gie-unique-id": Key("int", low=1, source=DOCS + " (unique-id: integer > 0)"),
    "process-mode": Key("int", (1, 2), source=DOCS + " (1=primary, 2=secondary)"),
    # NvDsInferNetworkType: Detector 0, Classifier 1, Segmentation 2, InstanceSegmentation 3, Other 100
    "network-type": Key("int", (0, 1, 2, 3, 100), source=f"{PARSER}; {CONTEXT}"),
    "output-instance-mask": Key("bool", source=PARSER),
    # 0 GroupRectangles, 1 DBSCAN, 2 NMS, 3 DBSCAN+NMS, 4 none; instance segmentation accepts only 4
    # (NVIDIA/DeepStream v9.1.0 src/utils/nvdsinfer/nvdsinfer_context_impl.cpp InstanceSegmentPostprocessor)
    "cluster-mode": Key("int", (0, 1, 2, 3, 4), source=PARSER),
    "onnx-file": Key("path"),
    "model-engine-file": Key("path"),
    "labelfile-path": Key("path"),
    "num-detected-classes": Key("int", low=1),
    # NvDsInferNetworkMode: FP32 0, INT8 1, FP16 2, BEST 3
    "network-mode": Key("int", (0, 1, 2, 3), source=f"{PARSER}; {CONTEXT}"),
    "batch-size": Key("int", low=1, high=NVDSINFER_MAX_BATCH_SIZE, source=PARSER),
    "infer-dims": Key("int-list", low=1, length=(3, 3), source=PARSER + " ([c;h;w], exactly 3)"),
    "output-blob-names": Key("string-list", length=(1, None)),
    "net-scale-factor": Key("float", low=0.0),
    "offsets": Key("float-list", length=(1, _MAX_CHANNELS), source=PARSER),
    "model-color-format": Key("int", (0, 1, 2), source=PARSER + " (0 RGB, 1 BGR, 2 GRAY)"),
    "network-input-order": Key("int", (0, 1), source=PARSER + " (0 NCHW, 1 NHWC)"),
    "maintain-aspect-ratio": Key("bool", source=PARSER),
    "symmetric-padding": Key("bool", source=PARSER),
    # NvBufSurfTransform_Inter: Nearest 0, Bilinear 1, Algo1..Algo4 2..5, Default 6 (nvbufsurftransform.h)
    "scaling-filter": Key("int", (0, 1, 2, 3, 4, 5, 6), source=PARSER),
    "custom-lib-path": Key("path"),
    "parse-bbox-instance-mask-func-name": Key("string"),
    "segmentation-threshold": Key("float", low=0.0, high=1.0),
    "interval": Key("int", low=0),
}
CLASS_ATTRS = {
    "pre-cluster-threshold": Key("float", low=0.0, high=1.0),
    "topk": Key("int", low=-1, source=PARSER + " (-1: keep all)"),
}
GROUPS = {"property": PROPERTY, "class-attrs-all": CLASS_ATTRS}

_INT = re.compile(r"[+-]?[0-9]+")  # what g_key_file_get_integer accepts (strtol, base 10, nothing after)
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_BOOL = ("true", "false", "1", "0")  # g_key_file_get_boolean


def _elements(value: str) -> list[str]:
    """A GLib list value: ';'-separated, a trailing ';' allowed."""
    return value[:-1].split(";") if value.endswith(";") else value.split(";")


def _number_problem(text: str, key: Key, integer: bool) -> str | None:
    if not (_INT if integer else _FLOAT).fullmatch(text):
        return f"'{text}' is not {'an integer' if integer else 'a number'}"
    number = int(text) if integer else float(text)
    if integer and key.allowed and number not in key.allowed:
        return f"{number} is not one of {', '.join(map(str, key.allowed))}"
    if (key.low is not None and number < key.low) or (key.high is not None and number > key.high):
        return f"{number} is outside [{key.low}, {key.high if key.high is not None else 'inf'}]"
    return None


def value_problem(key: Key, value: str) -> str | None:
    """Why nvinfer would refuse value for key, or None."""
    if key.kind in ("int", "float"):
        return _number_problem(value, key, key.kind == "int")
    if key.kind == "bool":
        return None if value in _BOOL else f"'{value}' is not a boolean (true/false/1/0)"
    if key.kind in ("string", "path"):
        return None if value.strip() else "empty"
    elements = _elements(value)
    low, high = key.length or (1, None)
    if len(elements) < low or (high is not None and len(elements) > high):
        return f"{len(elements)} elements, nvinfer wants {low}..{high if high is not None else 'any'}"
    if key.kind == "string-list":
        return None if all(e.strip() for e in elements) else "an empty element"
    problems = [_number_problem(e, key, key.kind == "int-list") for e in elements]
    return next((p for p in problems if p), None)


def config_problems(groups: dict[str, dict[str, str]], tables: dict | None = None) -> list[str]:
    """One line per group or key nvinfer (or, with tables=APP_GROUPS, deepstream-app) does not know, and per value
    it would refuse."""
    problems = []
    tables = GROUPS if tables is None else tables
    for group, entries in groups.items():
        table = tables.get(group)
        if table is None:
            problems.append(f"[{group}]: not a group checked here ({', '.join(tables)})")
            continue
        for name, value in entries.items():
            key = table.get(name)
            problem = "not a documented nvinfer key" if key is None else value_problem(key, value)
            if problem:
                problems.append(f"[{group}] {name}={value}: {problem}")
    return problems


# deepstream-app's [tracker] group (the bundle's deepstream_app_config.txt; nvtracker with NVIDIA's multi-object
# tracker library). Spellings: NVIDIA/DeepStream v9.1.0 src/apps/common/includes/deepstream_config_file_parser.h
# (CONFIG_GROUP_TRACKER_*, read by src/apps/common/src/deepstream_config_file_parser.c), whose fields are
# NvDsTrackerConfig in src/apps/common/includes/deepstream_tracker.h (enable, width, height, gpu_id, ll_config_file,
# ll_lib_file, display_tracking_id, tracking_id_reset_mode, ...); what each means: DeepStream Reference Application,
# "Tracker Group", https://docs.nvidia.com/metropolis/deepstream/dev-guide/text/DS_ref_app_deepstream.html
APP_DOCS = "https://docs.nvidia.com/metropolis/deepstream/dev-guide/text/DS_ref_app_deepstream.html"
TRACKER_STRUCT = "NVIDIA/DeepStream v9.1.0 src/apps/common/includes/deepstream_tracker.h"
TRACKER = {
    "enable": Key("bool", source=TRACKER_STRUCT),
    "tracker-width": Key("int", low=32, source=APP_DOCS + " (NvDsTrackerConfig.width; the Gst-nvtracker docs: a "
                                                          "multiple of 32)"),
    "tracker-height": Key("int", low=32, source=APP_DOCS + " (NvDsTrackerConfig.height)"),
    "gpu-id": Key("int", low=0, source=TRACKER_STRUCT),
    "ll-lib-file": Key("path", source=APP_DOCS + " (libnvds_nvmultiobjecttracker.so: IOU, NvSORT, NvDCF, NvDeepSORT)"),
    "ll-config-file": Key("path", source=APP_DOCS + " (the low-level tracker's YAML)"),
    "display-tracking-id": Key("bool", source=TRACKER_STRUCT),
    # 0 never reset, 1 on a stream reset, 2 at the end of a stream, 3 both (Gst-nvtracker tracking-id-reset-mode)
    "tracking-id-reset-mode": Key("int", (0, 1, 2, 3), source=TRACKER_STRUCT),
}
APP_GROUPS = {"tracker": TRACKER}

# The low-level tracker's YAML (deepstream.TRACKER_YAML): each section's keys as NVIDIA/DeepStream v9.1.0
# skills/deepstream-dev/references/tracker_config.md lists them (its "IOU Tracker" sample holds all of these) and
# src/apps/reference_apps/deepstream-tracker-3d-multi-view/config_templates/config_tracker_2d.yml spells them.
TRACKER_YAML_KEYS = {
    "BaseConfig": {"minDetectorConfidence"},
    "TargetManagement": {"preserveStreamUpdateOrder", "maxTargetsPerStream", "minIouDiff4NewTarget", "probationAge",
                         "maxShadowTrackingAge", "earlyTerminationAge"},
    "TrajectoryManagement": {"useUniqueID"},
    "DataAssociator": {"dataAssociatorType", "associationMatcherType", "checkClassMatch", "minMatchingScore4Overall",
                       "minMatchingScore4SizeSimilarity", "minMatchingScore4Iou", "matchingScoreWeight4SizeSimilarity",
                       "matchingScoreWeight4Iou"},
}
