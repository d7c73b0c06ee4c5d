import json

import numpy as np

from mrcnn_edge.runtime.detections import Detections
from mrcnn_edge.runtime.draw import MASK_ALPHA, annotate, class_color
from mrcnn_edge.runtime.latency import LatencyMeter


def _two_overlapping(h=120, w=160):
    masks = np.zeros((2, h, w), bool)
    masks[0, 20:80, 20:80] = True
    masks[1, 50:110, 60:140] = True
    boxes = np.array([[20, 20, 80, 80], [60, 50, 140, 110]], np.float32)
    return Detections(boxes, np.array([0.9, 0.6], np.float32), np.array([1, 2], np.int32), masks,
                      ["circle", "rectangle"])


def test_masks_are_blended_in_class_colours_most_confident_on_top():
    image = np.full((120, 160, 3), 100, np.uint8)
    out = annotate(image, _two_overlapping())
    assert out.shape == image.shape and (image == 100).all()  # the input is not modified

    def expected(c):
        return np.rint(100 * (1 - MASK_ALPHA) + np.array(class_color(c)) * MASK_ALPHA).astype(np.uint8)

    np.testing.assert_array_equal(out[70, 70], expected(1))  # overlap: the 0.9 circle wins
    np.testing.assert_array_equal(out[100, 120], expected(2))
    np.testing.assert_array_equal(out[115, 5], image[115, 5])  # outside every mask, box and label


def test_empty_detections_draw_only_the_fps_counter():
    image = np.full((64, 64, 3), 100, np.uint8)
    out = annotate(image, Detections.empty(64, 64), fps=12.3)
    assert (out[40:, :] == 100).all() and (out[:20, :40] != 100).any()


def test_meter_report_and_plot(tmp_path):
    meter = LatencyMeter(live_line=False)
    for i in range(50):
        meter.record({"capture_wait": 0.001, "preprocess": 0.002, "infer": 0.010 + i * 1e-4, "postprocess": 0.003,
                      "sink": 0.004}, end_to_end=0.021 + i * 1e-4)
    meter.close()
    report = meter.report(frames_dropped=3, backend="x")
    assert report["frames_processed"] == 50 and report["frames_dropped"] == 3 and report["backend"] == "x"
    assert abs(report["stages_ms"]["infer"]["p50"] - 12.45) < 0.01
    assert abs(report["end_to_end_ms"]["max"] - 25.9) < 1e-6
    json_path, png_path = meter.write(str(tmp_path), report, "test")
    assert json.load(open(json_path))["frames_dropped"] == 3
    assert open(png_path, "rb").read(4) == b"\x89PNG"
