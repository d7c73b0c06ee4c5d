"""Load through a Triton server: the light model @512, 1, 2, 4 and 8 concurrent streams (not a CI test).

Each stream is a closed loop (one request in flight, the next sent when the answer is back), as a
camera client is. Cases, interleaved per concurrency (local, triton, triton batched, repeated --rounds):
  * local:    the same model.onnx in-process (ONNX Runtime, --threads), the streams sharing one session;
  * triton:   the batch-1 export on the server (`export-triton --kind python`, Python backend + ONNX Runtime);
  * batched:  the `--dynamic-batch` export with dynamic batching (max batch 8): the mean batch Triton formed
              is inference_count / execution_count from its statistics.
Per request: the infer round trip (letterboxing is done once, before timing). Frames/s: all streams' requests
over the wall time of the case. Writes benchmarks/results/triton_load.{md,json}.

    PYTHONPATH=. python benchmarks/triton_load.py [--requests 16] [--rounds 2]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import threading
import time

import numpy as np

from mrcnn_edge.data.synthetic import VAL, sample
from mrcnn_edge.serving.repository import export_triton
from mrcnn_edge.export.onnx_export import export_onnx
from mrcnn_edge.model.zoo import default_checkpoint
from mrcnn_edge.runtime.predictor import Predictor
from mrcnn_edge.serving.server import TritonServer, free_ports

HERE = os.path.dirname(os.path.abspath(__file__))
STREAMS = (1, 2, 4, 8)


def load(make_predictor, images: list, streams: int, requests: int) -> dict:
    """`streams` closed-loop clients, `requests` each: frames/s in total and per-request latency."""
    predictors = [make_predictor() for _ in range(streams)]
    for p in predictors:
        p.infer(images[0])  # warm: connection, sessions, arenas
    seconds: list[float] = []
    lock, start = threading.Lock(), threading.Barrier(streams)

    def stream(k: int) -> None:
        start.wait()
        mine = []
        for i in range(requests):
            t0 = time.perf_counter()
            predictors[k].infer(images[(k + i) % len(images)])
            mine.append(time.perf_counter() - t0)
        with lock:
            seconds.extend(mine)

    threads = [threading.Thread(target=stream, args=(k,)) for k in range(streams)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    ms = np.array(seconds) * 1000
    return {"fps": len(seconds) / wall, "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "requests": len(seconds)}


def batch_counts(server: TritonServer, name: str) -> tuple[int, int]:
    import tritonclient.grpc as grpcclient

    stats = grpcclient.InferenceServerClient(server.endpoints["grpc"]).get_inference_statistics(
        name, as_json=True)["model_stats"][0]
    return int(stats.get("inference_count", 0)), int(stats.get("execution_count", 0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=16, help="requests per stream per case")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads, locally and on the server")
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "mrcnn-edge-triton-load"))
    parser.add_argument("--out", default=os.path.join(HERE, "results", "triton_load"))
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    size = (512, 512)
    models = {}
    for key, batch in (("light", 1), ("light_b", None)):
        path = os.path.join(args.work, f"{key}.onnx")
        models[key] = path if os.path.isfile(path) else export_onnx(default_checkpoint(), path, size, batch_size=batch,
                                                                    progress=False).path
    repo = os.path.join(args.work, "repo")
    export_triton(models["light"], repo, name="light", kind="python", threads=args.threads)
    export_triton(models["light_b"], repo, name="light_b", kind="python", threads=args.threads, max_batch=8)
    local = Predictor.from_path(models["light"], threads=args.threads)
    images = [local.preprocess(sample(VAL, i)[0])[0] for i in range(8)]
    load_before = os.getloadavg()
    results: dict = {}
    with TritonServer(repo, *free_ports(3), log_path=os.path.join(args.work, "tritonserver.log")) as server:
        cases = {"local": lambda: local,
                 "triton": lambda: Predictor.from_path(f"triton://{server.endpoints['grpc']}/light"),
                 "batched": lambda: Predictor.from_path(f"triton://{server.endpoints['grpc']}/light_b")}
        for _ in range(args.rounds):
            for streams in STREAMS:
                for case, make in cases.items():
                    before = batch_counts(server, "light_b") if case == "batched" else None
                    r = load(make, images, streams, args.requests)
                    if before:
                        after = batch_counts(server, "light_b")
                        r["mean_batch"] = (after[0] - before[0]) / max(1, after[1] - before[1])
                    results.setdefault(f"{case}/{streams}", []).append(r)
                    print(case, streams, {k: round(v, 2) for k, v in r.items()}, flush=True)
    load_after = os.getloadavg()
    write(args, results, load_before, load_after)


def _median(rows: list[dict], key: str) -> float:
    return float(np.median([r[key] for r in rows if key in r]))


def write(args, results: dict, load_before, load_after) -> None:
    isa = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni") if f in open("/proc/cpuinfo").read().split()]
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [f"# Triton load: light model @512, closed-loop streams ({when})",
             "", f"`PYTHONPATH=. python benchmarks/triton_load.py --requests {args.requests} --rounds {args.rounds}`. "
             f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, ISA {' '.join(isa)}; "
             f"ONNX Runtime {args.threads} threads locally and in the server's model instance (1 instance). "
             f"Load average before {load_before[0]:.1f}, after {load_after[0]:.1f}: **the machine was shared** "
             "with other jobs, so absolute figures are pessimistic; cases were interleaved per concurrency, "
             f"median of {args.rounds} rounds.", "",
             "| streams | local fps | local p50 / p99 ms | Triton fps | Triton p50 / p99 ms | batched fps | "
             "batched p50 / p99 ms | mean batch formed |", "|---|---|---|---|---|---|---|---|"]
    for streams in STREAMS:
        row = [str(streams)]
        for case in ("local", "triton", "batched"):
            rs = results[f"{case}/{streams}"]
            row += [f"{_median(rs, 'fps'):.1f}", f"{_median(rs, 'p50_ms'):.0f} / {_median(rs, 'p99_ms'):.0f}"]
        row.append(f"{_median(results[f'batched/{streams}'], 'mean_batch'):.2f}")
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Work per image differs between the columns: the local ONNX Runtime backend cuts the batch-1 graph's "
              "mask head to the detected rows (dynamic K), while the server's model.py runs the graph as exported "
              "(all 50 rows), and a `--dynamic-batch` graph always runs all 50 (see Known gaps). The Triton columns "
              "also pay the gRPC round trip and a copy into and out of the Python backend's shared memory."]
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(args.out + ".json", "w") as f:
        json.dump({"results": results, "load_before": load_before, "load_after": load_after, "isa": isa,
                   "threads": args.threads, "requests": args.requests}, f, indent=2)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
