"""`mrcnn-edge` command line. Each subcommand only parses arguments and calls one library function."""
from __future__ import annotations

import argparse
import os
import sys

from ._version import __version__
from .errors import UserError
from .names import BUILD_PRECISIONS, CALIBRATION_METHOD, CALIBRATION_METHODS, CONVERSIONS
from .precision.placement import DEFAULT_KEEP_FLOAT
from .precision.placement import EXCLUSIONS as KEEP_FLOAT_CHOICES
from .runtime.backends import BACKENDS
from .runtime import SCORE_THRESHOLD
from .train.norm import TRUNK_NORMS
from .surgery.plugin_impls import PLUGIN_IMPLS


def _models(args) -> None:
    from .model.zoo import describe_zoo

    print(describe_zoo())


def _train(args) -> None:
    if args.data or args.images or args.val_data or args.val_images:  # a user's COCO set; without it, the synthetic sets the shipped models come from
        from .train.config import CocoTrainConfig
        from .train.loop import train_coco

        print(train_coco(CocoTrainConfig(
            data=args.data, images=args.images, out=args.out, val_data=args.val_data, val_images=args.val_images,
            arch=args.arch or CocoTrainConfig.arch, init=args.init, init_backbone=args.init_backbone,
            iterations=args.iterations, epochs=args.epochs, batch=args.batch, accumulate=args.accumulate,
            size=args.size, device=args.device, optimizer=args.optimizer, lr=args.lr, schedule=args.schedule,
            warmup=args.warmup, clip_grad=args.clip_grad or None, augment=not args.no_augment,
            checkpoint_every=args.checkpoint_every, eval_every=args.eval_every, log_every=args.log_every,
            workers=args.workers, seed=args.seed, resume=args.resume, tensorboard=args.tensorboard,
            strict=args.strict, norm=args.norm)).summary())
        return
    from .train.synthetic import TrainConfig, train

    cfg = TrainConfig(task=args.task, arch=args.arch, iterations=args.iterations or TrainConfig.iterations,
                      seed=args.seed, warmup=TrainConfig.warmup if args.warmup is None else args.warmup,
                      init=args.init, init_backbone=args.init_backbone, first_image=args.first_image,
                      stop_after=args.stop_after, resume=args.resume)
    print(train(cfg, args.out))


def _eval(args) -> None:
    from .eval.run import evaluate_cli

    print(evaluate_cli(args.model, num_images=args.num_images, out_json=args.json, data=args.data,
                       images=args.images, ignore_unmatched=args.ignore_unmatched, strict=args.strict,
                       evaluator=args.evaluator, backend=args.backend, plugin_impl=args.plugin_impl))


def _run(args) -> None:
    from .runtime.multistream import run_sources

    print(run_sources(args.model, args.source, sources_file=args.sources, out=args.out, jsonl=args.jsonl,
                      coco=args.coco, report_dir=args.report_dir, out_dir=args.out_dir, preview=args.preview,
                      batch_timeout_ms=args.batch_timeout, max_batch=args.max_batch, reconnect=args.reconnect,
                      max_frames=args.max_frames, show=args.show, score_threshold=args.score_threshold,
                      cuda_graph=args.cuda_graph, strict=args.strict, backend=args.backend,
                      plugin_impl=args.plugin_impl, track=args.track, mot=args.mot).summary())


def _eval_track(args) -> None:
    from .eval.track import evaluate_tracks_cli

    print(evaluate_tracks_cli(args.gt, args.pred, out_json=args.json))


def _demo(args) -> None:
    from .demo import run_demo

    print(run_demo(args.out_dir, num_frames=args.frames, size=args.size, backend=args.backend,
                   task=args.task).summary())


def _bench(args) -> None:
    if args.streams:
        from .runtime.stream_bench import bench_streams, parse_counts

        print(bench_streams(args.model, parse_counts(args.streams), frames_per_stream=args.iterations, video=args.video,
                            batch_timeout_ms=args.batch_timeout, backend=args.backend,
                            score_threshold=args.score_threshold, out_dir=args.out_dir).summary())
        return
    from .runtime.bench import bench

    print(bench(args.model, video=args.video, warmup=args.warmup, iterations=args.iterations,
                vs_eager=args.vs_eager, checkpoint=args.checkpoint, out_dir=args.out_dir,
                score_threshold=args.score_threshold, cuda_graph=args.cuda_graph, backend=args.backend,
                plugin_impl=args.plugin_impl).summary())


def _export(args) -> None:
    from .export.onnx_export import export_onnx
    from .model.class_names import parse_classes
    from .model.zoo import default_checkpoint

    result = export_onnx(args.weights or default_checkpoint(), args.out, args.size, arch=args.arch,
                         batch_size=None if args.dynamic_batch else 1, classes=parse_classes(args.classes))
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"exported {result.path} in {result.seconds:.1f} s: {result.nodes} nodes, "
          f"{result.size_bytes / 2**20:.1f} MiB (sidecar {result.sidecar})")


def _build(args) -> None:
    from .chain import build_chain

    print(build_chain(args.precision, weights=args.weights, model=args.model, size=args.size, arch=args.arch,
                      dynamic_batch=args.dynamic_batch, out_dir=args.out_dir, calibration=args.calibration,
                      calib_source=args.calib_source, calib_images=args.calib_images, plugins=args.plugins,
                      workspace_mb=args.workspace_mb, dla_core=args.dla_core, timing_cache=args.timing_cache,
                      opt_level=args.opt_level, max_batch=args.max_batch).summary())


def _check(args) -> int:
    from .check.checker import check

    result = check(args.model, args.tensorrt)
    for line in result.lines():
        print(line)
    print(result.summary(), file=sys.stdout if result.ok else sys.stderr)
    return 0 if result.ok else 1


def _export_triton(args) -> None:
    from .serving.repository import export_triton

    print(export_triton(args.model, args.repository, name=args.name, instances=args.instances, kind=args.kind,
                        max_batch=args.max_batch, threads=args.threads).summary())


def _export_deepstream(args) -> None:
    from .serving.deepstream import export_deepstream

    print(export_deepstream(args.model, args.out, batch=args.batch, score_threshold=args.score_threshold).summary())


def _serve(args) -> None:
    from .serving.server import serve

    print(serve(args.repository, http_port=args.http_port, grpc_port=args.grpc_port, metrics_port=args.metrics_port,
                log_path=args.log).summary())


def _size(text: str) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not HxW, e.g. 512x512") from None
    return height, width


def _surgery(args) -> None:
    from .surgery.surgeon import surgeon

    print(surgeon(args.model, args.out).summary())


def _inspect(args) -> None:
    from .describe import describe_model

    print(describe_model(args.model))


def _calibrate(args) -> None:
    from .precision.calibrate import calibrate
    from .images import skipped_lines

    r = calibrate(args.model, args.source, method=args.method, num_images=args.num_images, cache_path=args.cache,
                  strict=args.strict)
    print(f"calibrated {r.tensors} tensors on {r.num_images} images ({r.method}) in {r.seconds:.0f} s: {r.cache}")
    print("\n".join(skipped_lines(r.skipped)), end="\n" if r.skipped else "")


def _quantize(args) -> None:
    from .precision.convert import convert

    r = convert(args.model, args.precision, cache=args.cache, out=args.out, keep_float=tuple(args.keep_float))
    print(f"wrote {r.path} in {r.seconds:.1f} s")


_CUDA_GRAPH_HELP = ("TensorRT engines: capture the copies and enqueue once as a CUDA graph and replay it "
                    "(saves per-kernel launch overhead, most on Jetson's CPU cores)")


def _backend_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", default="auto", metavar="{" + ",".join(BACKENDS) + "}",
                   help="what runs an .onnx model: auto (OpenVINO where installed, else ONNX Runtime), onnxruntime, "
                        "openvino, or openvino:<DEVICE> (default CPU); .engine files run on TensorRT")


def _plugin_impl_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--plugin-impl", default=None, choices=PLUGIN_IMPLS,
                   help="model.trt.onnx: run its plugin nodes on the plugins' CPU references (the default) or on "
                        "the CUDA kernels themselves, executed on the CPU (plugins/cpu_exec)")


# One function per subcommand: its arguments and the function it calls (in the order --help lists them).
def _models_command(sub) -> None:
    p = sub.add_parser("models", help="list architectures and the shipped checkpoint")
    p.set_defaults(func=_models)


def _train_command(sub) -> None:
    p = sub.add_parser("train", help="train on your COCO-format set (--data, --images; CPU, GPU or torchrun), "
                                     "or on a synthetic set (--task)")
    coco = p.add_argument_group("your data (COCO instances or person keypoints)")
    coco.add_argument("--data", default=None, help="the training annotations, e.g. instances_train.json")
    coco.add_argument("--images", default=None, help="the folder the training file_name entries are in")
    coco.add_argument("--val-data", default=None, help="val annotations: val AP during training and best.pth")
    coco.add_argument("--val-images", default=None)
    coco.add_argument("--epochs", type=int, default=None, help="default 12 (detectron2's 1x), unless --iterations")
    coco.add_argument("--batch", type=int, default=2, help="images per process in a micro-batch (default 2)")
    coco.add_argument("--accumulate", type=int, default=1,
                      help="micro-batches per step: global batch = batch x processes x accumulate")
    coco.add_argument("--size", type=_size, default=(512, 512), help="HxW input size, multiples of 32 (default 512x512)")
    coco.add_argument("--device", choices=("cpu", "cuda"), default=None, help="default: cuda where available (AMP)")
    coco.add_argument("--optimizer", choices=("sgd", "adamw"), default="sgd")
    coco.add_argument("--lr", type=float, default=None, help="default: SGD 0.02 x global batch / 16, AdamW 1e-4")
    coco.add_argument("--schedule", choices=("step", "cosine"), default="step")
    coco.add_argument("--clip-grad", type=float, default=10.0, help="max gradient norm; 0: no clipping")
    coco.add_argument("--no-augment", action="store_true", help="no flip, scale or colour jitter")
    coco.add_argument("--norm", choices=TRUNK_NORMS, default="auto",
                      help="the trunk's BatchNorm: frozen (as torchvision fine-tunes a trained trunk) or batch "
                           "(trained); auto: frozen when --init or --init-backbone gives trained weights")
    coco.add_argument("--checkpoint-every", type=int, default=500, help="iterations between writes of last.pth")
    coco.add_argument("--eval-every", type=int, default=None, help="iterations between val evaluations (default: an epoch)")
    coco.add_argument("--log-every", type=int, default=20, help="iterations between metrics.csv rows")
    coco.add_argument("--workers", type=int, default=1, help="data-loading processes per training process")
    coco.add_argument("--tensorboard", action="store_true", help="also write TensorBoard event files")
    coco.add_argument("--strict", action="store_true", help="a bad row of the data is an error, not skipped")
    synthetic = p.add_argument_group("synthetic sets (how the shipped models are made)")
    synthetic.add_argument("--task", choices=("masks", "keypoints"), default="masks",
                           help="masks: the shapes set; keypoints: the articulated figures set")
    synthetic.add_argument("--first-image", type=int, default=0, help="index of the first synthetic training image")
    synthetic.add_argument("--stop-after", type=int, default=None, help="stop after this many iterations")
    p.add_argument("--arch", default=None, help="default: the light architecture (`mrcnn-edge models` lists them)")
    p.add_argument("--iterations", type=int, default=None,
                   help="optimizer steps (synthetic: the cosine schedule's length, default 3000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--warmup", type=int, default=None, help="linear warm-up iterations")
    p.add_argument("--init", default=None, help="start from every tensor of this file that fits")
    p.add_argument("--init-backbone", default=None, help="start the backbone from this file (e.g. the shipped model)")
    p.add_argument("--resume", action="store_true",
                   help="continue the interrupted run in --out from its last checkpoint, same settings")
    p.add_argument("--out", default="runs/train")
    p.set_defaults(func=_train)


def _eval_command(sub) -> None:
    p = sub.add_parser("eval", help="COCO box and mask AP on a COCO-format set (default: the synthetic val set)")
    p.add_argument("--model", nargs="+", default=None,
                   help="checkpoints (.pth, run in torchvision eager) and/or artifacts (.onnx, .engine); "
                        "the first is the reference. Default: the shipped checkpoint")
    p.add_argument("--data", default=None, help="COCO instances JSON of your own set (with --images)")
    p.add_argument("--images", default=None, help="the folder its file_name entries are in")
    p.add_argument("--num-images", type=int, default=None, help="the first N images (default: all; synthetic: 200)")
    p.add_argument("--ignore-unmatched", action="store_true",
                   help="drop model classes whose name no dataset category has (default: an error)")
    p.add_argument("--strict", action="store_true", help="an unreadable image is an error (default: skipped, named)")
    p.add_argument("--evaluator", choices=("faster-coco-eval", "pycocotools"), default=None,
                   help="default: faster-coco-eval where installed, else pycocotools (the same numbers)")
    p.add_argument("--json", default=None, help="write the result as JSON here")
    _backend_argument(p)
    _plugin_impl_argument(p)
    p.set_defaults(func=_eval)


def _export_command(sub) -> None:
    p = sub.add_parser("export", help="export a checkpoint to ONNX (fixed input size) with its sidecar JSON")
    p.add_argument("--arch", default=None, help="architecture; default: what the checkpoint says")
    p.add_argument("--weights", default=None, help="checkpoint (.pth, .pt, .safetensors, or detectron2 .pkl/.pth); default: the shipped model")
    p.add_argument("--classes", default=None, help="class names, background excluded: a file with one name a "
                   "line, or a,b,c; default: the checkpoint's own, COCO's for a 91-class model, else class_N")
    p.add_argument("--size", type=_size, default=None,
                   help="HxW, multiples of 32; default: the checkpoint's input size, else 800x800")
    p.add_argument("--dynamic-batch", action="store_true",
                   help="a dynamic batch axis (for Triton and batched engines); default: batch 1")
    p.add_argument("-o", "--out", default="model.onnx")
    p.set_defaults(func=_export)


def _run_command(sub) -> None:
    p = sub.add_parser("run", help="stream a camera, video, URL, GStreamer pipeline or images through a model")
    p.add_argument("--model", required=True,
                   help="an .onnx from `mrcnn-edge export` (or an .engine), or a model on a Triton server: "
                        "triton://HOST:PORT/NAME (gRPC), http://HOST:PORT/NAME")
    p.add_argument("--source", action="append", default=None,
                   help="camera index (0), video file, rtsp:// or http(s):// URL, GStreamer pipeline "
                        "('... ! appsink'), image file, folder or glob; repeat it for several streams")
    p.add_argument("--sources", default=None, metavar="FILE",
                   help="several streams: one source a line, optionally 'NAME: SOURCE'")
    p.add_argument("--out-dir", default=None, help="several streams: write DIR/<stream>/annotated.mp4 and "
                                                   "detections.jsonl, and report.json + latency.png in DIR")
    p.add_argument("--batch-timeout", type=float, default=None, metavar="MS",
                   help="several streams: the longest wait for a batch to fill (default 5 ms, as nvstreammux's "
                        "batched-push-timeout)")
    p.add_argument("--max-batch", type=int, default=None,
                   help="several streams: frames per batch at most (default: one per stream)")
    p.add_argument("--reconnect", action="store_true",
                   help="reopen an RTSP/HTTP stream that drops, with backoff (up to 5 tries in a row)")
    p.add_argument("--preview", default=None, metavar="[HOST:]PORT",
                   help="serve every stream's annotated frames with fps and p99 to a browser (MJPEG); binds "
                        "127.0.0.1 unless a host is given")
    p.add_argument("--out", default=None, help="write the annotated video here (.mp4)")
    p.add_argument("--jsonl", default=None, help="write each frame's detections here (JSON Lines, RLE masks)")
    p.add_argument("--coco", default=None, help="write COCO results JSON here (image folders)")
    p.add_argument("--report-dir", default=None, help="write report.json and latency.png here")
    p.add_argument("--max-frames", type=int, default=None)
    p.add_argument("--show", action="store_true", help="show the annotated frames in a window (needs a display)")
    p.add_argument("--score-threshold", type=float, default=SCORE_THRESHOLD,
                   help="draw and write detections scoring at least this (0.05: all the model returns)")
    p.add_argument("--cuda-graph", action="store_true", help=_CUDA_GRAPH_HELP)
    p.add_argument("--strict", action="store_true",
                   help="an unreadable image of a folder or glob is an error (default: skipped, counted, named)")
    p.add_argument("--track", action="store_true",
                   help="give every detection an identity across frames (ByteTrack, one tracker per stream): "
                        "track_id in the JSONL, colours and #id labels by track in the video")
    p.add_argument("--mot", default=None, metavar="FILE",
                   help="with --track: write the tracks here as MOTChallenge rows (frame,id,x,y,w,h,score,-1,-1,-1)")
    _backend_argument(p)
    _plugin_impl_argument(p)
    p.set_defaults(func=_run)


def _eval_track_command(sub) -> None:
    p = sub.add_parser("eval-track", help="HOTA, MOTA, IDF1 and ID switches of tracks against ground truth "
                                          "(TrackEval); mask HOTA where both have masks")
    p.add_argument("--gt", required=True, help="ground truth: MOTChallenge gt.txt, MOTS text, or our JSONL")
    p.add_argument("--pred", required=True, help="tracks: `run --mot` text, `run --track --jsonl` JSONL, or MOTS")
    p.add_argument("--json", default=None, help="write the result as JSON here")
    p.set_defaults(func=_eval_track)


def _demo_command(sub) -> None:
    p = sub.add_parser("demo", help="the shipped model on a generated video: annotated video and latency report")
    p.add_argument("--out-dir", default="demo_out")
    p.add_argument("--frames", type=int, default=120)
    p.add_argument("--size", type=int, default=512, help="frame and model input size (square)")
    p.add_argument("--task", choices=("masks", "keypoints"), default="masks",
                   help="masks: the shipped Mask R-CNN on moving shapes; keypoints: the shipped Keypoint R-CNN "
                        "on walking figures")
    _backend_argument(p)
    p.set_defaults(func=_demo)


def _bench_command(sub) -> None:
    p = sub.add_parser("bench", help="latency and throughput of a model on real frames")
    p.add_argument("--model", required=True, help="an .onnx from `mrcnn-edge export` (or an .engine), or "
                                                  "triton://HOST:PORT/NAME, http://HOST:PORT/NAME")
    p.add_argument("--video", default=None, help="frames to use; default: a generated synthetic video")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--iterations", type=int, default=50)
    p.add_argument("--vs-eager", action="store_true", help="also time torchvision eager on the same frames")
    p.add_argument("--streams", default=None, metavar="N,N,...",
                   help="throughput and p99 of `run` with each number of streams, batched against one by one "
                        "(a --dynamic-batch export); --iterations frames per stream")
    p.add_argument("--batch-timeout", type=float, default=5.0, metavar="MS", help="--streams: as run's")
    p.add_argument("--checkpoint", default=None, help="eager's checkpoint (.pth); default: the shipped model")
    p.add_argument("--out-dir", default="bench_out")
    p.add_argument("--score-threshold", type=float, default=SCORE_THRESHOLD, help="detections pasted and kept per frame")
    p.add_argument("--cuda-graph", action="store_true", help=_CUDA_GRAPH_HELP)
    _backend_argument(p)
    _plugin_impl_argument(p)
    p.set_defaults(func=_bench)


def _surgery_command(sub) -> None:
    p = sub.add_parser("surgery", help="model.onnx -> model.trt.onnx: regions replaced by our TensorRT plugins")
    p.add_argument("model")
    p.add_argument("-o", "--out", default=None, help="default: <model>.trt.onnx")
    p.set_defaults(func=_surgery)


def _inspect_command(sub) -> None:
    p = sub.add_parser("inspect", help="inputs, outputs, plugin nodes and sidecar of an ONNX model")
    p.add_argument("model")
    p.set_defaults(func=_inspect)


def _calibrate_command(sub) -> None:
    p = sub.add_parser("calibrate", help="INT8 calibration: activation ranges -> a reusable cache (JSON)")
    p.add_argument("model", help="model.onnx (calibrate the plain graph; the cache also serves model.trt.onnx)")
    p.add_argument("--source", default="synthetic", help="image folder, glob, video, or 'synthetic' ('figures' for a keypoint model)")
    p.add_argument("--method", default=CALIBRATION_METHOD, choices=CALIBRATION_METHODS)
    p.add_argument("--num-images", type=int, default=64, help="default 64: see calibration/README.md")
    p.add_argument("--cache", default=None, help="default: <model>.calib.<method>.json")
    p.add_argument("--strict", action="store_true", help="an unreadable image is an error (default: skipped, named)")
    p.set_defaults(func=_calibrate)


def _quantize_command(sub) -> None:
    p = sub.add_parser("quantize", help="model[.trt].onnx -> model.<precision>[.trt].onnx (fp16, int8 Q/DQ, or bf16)")
    p.add_argument("model")
    p.add_argument("--precision", required=True, choices=CONVERSIONS,
                   help="bf16: the fp32 graph, run in bf16 by the OpenVINO backend (CPUs with AVX512-BF16 or AMX)")
    p.add_argument("--cache", default=None, help="int8: the cache from `mrcnn-edge calibrate`")
    p.add_argument("--keep-float", nargs="*", default=list(DEFAULT_KEEP_FLOAT), choices=KEEP_FLOAT_CHOICES,
                   help="int8: layers kept in float for accuracy; default: %(default)s, the best measured in "
                        "calibration/README.md; --keep-float alone quantises them all")
    p.add_argument("-o", "--out", default=None)
    p.set_defaults(func=_quantize)


def _build_command(sub) -> None:
    p = sub.add_parser("build", help="the whole chain for this machine: export, surgery, precision, check, then a "
                                     "TensorRT engine (else the ONNX Runtime model); up-to-date steps are skipped")
    p.add_argument("--precision", choices=BUILD_PRECISIONS, default="fp16",
                   help="bf16: CPU only (OpenVINO on AVX512-BF16/AMX); fp16 on a CPU builds fp32 (measured faster)")
    p.add_argument("--weights", default=None, help="checkpoint to build (any `export` takes); default: the shipped model")
    p.add_argument("--model", default=None, help="or an exported model.onnx to build from")
    p.add_argument("--size", type=_size, default=None, help="--weights: HxW input size (as `export --size`)")
    p.add_argument("--arch", default=None, help="--weights: architecture; default: what the checkpoint says")
    p.add_argument("--dynamic-batch", action="store_true", help="--weights: export with a dynamic batch axis")
    p.add_argument("--out-dir", default=None, help="default: <checkpoint stem>_build/ in this folder (--weights or none), beside the model (--model)")
    p.add_argument("--calibration", default=None, help="int8: a `mrcnn-edge calibrate` cache; default: calibrate inline")
    p.add_argument("--calib-source", default=None, help="int8: calibration images (folder, glob or video); "
                                                        "default: the synthetic set, for the shipped model only")
    p.add_argument("--calib-images", type=int, default=64, help="int8: images to calibrate on")
    p.add_argument("--plugins", default=None, help="libmrcnn_edge_plugins.so; default: $MRCNN_EDGE_PLUGINS, "
                                                   "else build/cmake of this checkout")
    p.add_argument("--workspace-mb", type=int, default=4096, help="TensorRT workspace limit")
    p.add_argument("--dla-core", type=int, default=None, help="build for this DLA core (Jetson Orin; fp16/int8 "
                                                              "only, see docs/jetson.md), GPU fallback")
    p.add_argument("--timing-cache", default=None, help="TensorRT timing cache; default: tensorrt.timing.cache "
                                                        "in the output folder")
    p.add_argument("--opt-level", type=int, default=3, choices=range(6), help="TensorRT builder optimisation level")
    p.add_argument("--max-batch", type=int, default=8, help="largest batch, for graphs with a dynamic batch axis")
    p.set_defaults(func=_build)


def _check_command(sub) -> None:
    p = sub.add_parser("check", help="check a graph against TensorRT's ONNX-parser and strongly typed rules "
                                     "(no TensorRT needed): exit 1 with one line per violation")
    p.add_argument("model", help="the graph TensorRT gets: model[.<precision>].trt.onnx")
    p.add_argument("--tensorrt", default="10.3", choices=("10.3", "10.x", "11.x"),
                   help="the TensorRT release whose rules apply (default: 10.3, JetPack 6)")
    p.set_defaults(func=_check)


def _export_triton_command(sub) -> None:
    p = sub.add_parser("export-triton", help="write a Triton Inference Server model repository for a model")
    p.add_argument("--model", required=True, help="an .engine from `mrcnn-edge build`, or an .onnx")
    p.add_argument("--repository", default="triton_models")
    p.add_argument("--name", default=None, help="model name; default: <model>_<precision>")
    p.add_argument("--instances", type=int, default=1, help="instances of the model Triton runs")
    p.add_argument("--kind", choices=("gpu", "cpu", "python"), default=None,
                   help="gpu/cpu: Triton's TensorRT (engine) or ONNX Runtime backend; python: the .onnx in ONNX "
                        "Runtime inside Triton's Python backend (servers without the ONNX Runtime backend). "
                        "Default: gpu for an engine, cpu for ONNX")
    p.add_argument("--max-batch", type=int, default=8, help="batch limit of an ONNX model with a dynamic batch axis")
    p.add_argument("--threads", type=int, default=0,
                   help="python kind: ONNX Runtime threads per instance (0: all cores)")
    p.set_defaults(func=_export_triton)


def _export_deepstream_command(sub) -> None:
    p = sub.add_parser("export-deepstream", help="write a DeepStream bundle (nvinfer config with our instance-mask "
                                                 "parser, labels, deepstream-app config) for a model")
    p.add_argument("--model", required=True, help="model.trt.onnx (or model.<precision>.trt.onnx), an .engine, or a "
                                                  "plain model.onnx (surgery writes its .trt.onnx beside it first)")
    p.add_argument("-o", "--out", default="deepstream", help="the bundle's folder")
    p.add_argument("--batch", type=int, default=1, help="nvinfer's batch-size and the number of sources")
    p.add_argument("--score-threshold", type=float, default=SCORE_THRESHOLD,
                   help="nvinfer's pre-cluster-threshold for every class (default: as `run`)")
    p.set_defaults(func=_export_deepstream)


def _serve_command(sub) -> None:
    p = sub.add_parser("serve", help="start a Triton Inference Server on a repository from export-triton")
    p.add_argument("--repository", default="triton_models")
    p.add_argument("--http-port", type=int, default=8000)
    p.add_argument("--grpc-port", type=int, default=8001)
    p.add_argument("--metrics-port", type=int, default=8002)
    p.add_argument("--log", default=None, help="the server's log file; default: a temporary file")
    p.set_defaults(func=_serve)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mrcnn-edge", description="Deploy a torchvision Mask R-CNN for real-time instance segmentation: "
        "export -> surgery -> precision -> build -> run (TensorRT on GPUs, ONNX Runtime on the CPU).")
    parser.add_argument("--version", action="version", version=f"mrcnn-edge {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_models_command, _train_command, _eval_command, _eval_track_command, _export_command, _run_command,
                _demo_command, _bench_command, _surgery_command, _inspect_command, _calibrate_command, _quantize_command,
                _build_command, _check_command, _export_triton_command, _export_deepstream_command, _serve_command):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code = args.func(args)
    except UserError as e:
        print(f"mrcnn-edge {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mrcnn-edge {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `mrcnn-edge inspect m.onnx | head`: the reader left, which is no error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's own flush at exit fails else
        return 0
    return code or 0


if __name__ == "__main__":
    sys.exit(main())
