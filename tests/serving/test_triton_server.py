"""The streaming runtime as a client of a real Triton server: same answers as local inference, and one
line for every failure (unreachable, missing model, contract mismatch, server killed mid-stream)."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from triton_helpers import (LOCAL_BACKEND, SIZE, THREADS, free_ports, grpc_url, http_url, require_tritonserver,
                            write_repository)
from mrcnn_edge.errors import UserError
from mrcnn_edge.runtime.predictor import Predictor

OUTPUTS = ("num_detections", "boxes", "scores", "classes", "masks")


def assert_raw_equal(remote, local):
    """The contract's outputs: equal counts, and equal rows below num_detections (the rest is padding)."""
    np.testing.assert_array_equal(remote["num_detections"], local["num_detections"])
    for b, n in enumerate(local["num_detections"]):
        for name in OUTPUTS[1:]:
            np.testing.assert_array_equal(remote[name][b, :n], local[name][b, :n], err_msg=name)


def test_python_backend_repository_loads(triton_server, local_light):
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(triton_server.endpoints["grpc"])
    assert client.is_server_ready()
    for name in ("light", "light_b", "contract_mismatch"):
        assert client.is_model_ready(name), name
    remote = Predictor.from_path(grpc_url(triton_server))
    assert remote.class_names == local_light.class_names and remote.input_size == SIZE
    assert remote.backend_name == f"triton grpc {triton_server.endpoints['grpc']}/light"


def test_a_keypoint_model_served_gives_the_local_keypoints(triton_server, keypoint_model):
    """The shipped keypoint model through Triton's Python backend: its keypoint_heatmaps output travels, and the
    decoded keypoints equal those of the same model.onnx run here."""
    from mrcnn_edge.data.figures import VAL, sample

    remote = Predictor.from_path(grpc_url(triton_server, "keypoints"))
    local = Predictor.from_path(keypoint_model, threads=THREADS, backend=LOCAL_BACKEND)
    assert remote.keypoint_layout == local.keypoint_layout and remote.keypoint_layout.num_keypoints == 11
    shown = 0
    for i in range(3):
        frame = sample(VAL, i)[0]
        got, expected = remote(frame), local(frame)
        assert got.masks is None and len(got) == len(expected)
        np.testing.assert_allclose(got.keypoints, expected.keypoints, atol=1e-3)
        np.testing.assert_allclose(got.keypoint_scores, expected.keypoint_scores, atol=1e-4)
        shown += int((expected.scores > 0.5).sum())
    assert shown >= 3  # real figures were found, so real keypoints were compared


def test_run_on_a_video_gives_the_local_jsonl(triton_server, light_models, video, tmp_path):
    from mrcnn_edge.cli import main
    from mrcnn_edge.runtime.run import run_stream

    local = Predictor.from_path(light_models[0], threads=THREADS, score_threshold=0.3, backend=LOCAL_BACKEND)
    run_stream(local, video, jsonl=str(tmp_path / "local.jsonl"), live_line=False)
    assert main(["run", "--model", grpc_url(triton_server), "--source", video, "--jsonl",
                 str(tmp_path / "triton.jsonl"), "--score-threshold", "0.3"]) == 0
    local_rows = (tmp_path / "local.jsonl").read_text().splitlines()
    assert len(local_rows) == 12 and sum(len(json.loads(r)["detections"]) for r in local_rows) > 12
    assert (tmp_path / "triton.jsonl").read_text().splitlines() == local_rows


def test_four_concurrent_clients_get_local_answers(triton_server, local_light, frames):
    expected = [local_light.infer(local_light.preprocess(f)[0]) for f in frames]
    urls = [grpc_url(triton_server), grpc_url(triton_server), http_url(triton_server), http_url(triton_server)]
    answers, errors = {}, []

    def client(i, url):
        try:
            predictor = Predictor.from_path(url)
            order = frames[i:] + frames[:i]  # every client on every frame, in a different order
            answers[i] = [predictor.infer(predictor.preprocess(f)[0]) for f in order]
        except Exception as e:  # reported below: a thread's exception would be lost
            errors.append(e)

    threads = [threading.Thread(target=client, args=(i, url)) for i, url in enumerate(urls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(answers) == 4
    for i, got in answers.items():
        for j, raw in enumerate(got):
            assert_raw_equal(raw, expected[(i + j) % len(frames)])


def test_dynamic_batching_merges_concurrent_requests(triton_server, light_models, frames):
    """light_b has a batch axis: concurrent requests are run as one batch (fewer executions than
    inferences), and each answer is its own image's within float tolerance (a batch of 3 equals each
    image alone within 1e-4: tests/export/test_dynamic_batch.py)."""
    import tritonclient.grpc as grpcclient

    local = Predictor.from_path(light_models[1], threads=THREADS, backend=LOCAL_BACKEND)
    images = [local.preprocess(f)[0] for f in frames]
    expected = [local.infer(i) for i in images]
    predictors = [Predictor.from_path(grpc_url(triton_server, "light_b")) for _ in range(4)]
    answers = [None] * 4
    start = threading.Barrier(4)  # sent together: the first runs alone, the other three queue behind it

    def client(k):
        start.wait()
        answers[k] = predictors[k].infer(images[k])

    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(answers, expected):
        np.testing.assert_array_equal(got["num_detections"], want["num_detections"])
        n = int(want["num_detections"][0])
        np.testing.assert_allclose(got["boxes"][0, :n], want["boxes"][0, :n], atol=1e-3)
        np.testing.assert_allclose(got["scores"][0, :n], want["scores"][0, :n], atol=1e-4)
        np.testing.assert_array_equal(got["classes"][0, :n], want["classes"][0, :n])
    client = grpcclient.InferenceServerClient(triton_server.endpoints["grpc"])
    deadline = time.monotonic() + 10
    while True:  # the server counts a request just after answering it
        stats = client.get_inference_statistics("light_b", as_json=True)["model_stats"][0]
        if int(stats.get("inference_count", 0)) == 4 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert int(stats["inference_count"]) == 4 and int(stats["execution_count"]) < 4, stats


def test_wrong_dtype_or_shape_gets_tritons_error_and_the_next_request_succeeds(triton_server, local_light, frames):
    remote = Predictor.from_path(grpc_url(triton_server))
    images = local_light.preprocess(frames[0])[0]
    with pytest.raises(UserError, match="rejected the request: .*data-type is 'FP32', but model 'light' expects "
                                        "'UINT8'"):
        remote.backend.infer_raw(images.astype(np.float32))
    with pytest.raises(UserError, match="rejected the request: .*unexpected shape for input 'images'"):
        remote.backend.infer_raw(images[:, :, :160])
    with pytest.raises(UserError, match="takes uint8 images 1x3x320x448, not 1x3x160x448 uint8"):
        remote.infer(images[:, :, :160])  # checked on the client before it is sent
    assert_raw_equal(remote.infer(images), local_light.infer(images))


def test_unreachable_server_missing_model_and_contract_mismatch(triton_server):
    (port,) = free_ports(1)
    for url in (f"triton://127.0.0.1:{port}/light", f"http://127.0.0.1:{port}/light"):
        with pytest.raises(UserError, match=f"cannot reach the Triton server at 127.0.0.1:{port} .*mrcnn-edge serve"):
            Predictor.from_path(url)
    with pytest.raises(UserError, match="model 'nope' is not ready .* no such model \\(it has: contract_mismatch, "
                                        "keypoints, light, light_b\\)"):
        Predictor.from_path(grpc_url(triton_server, "nope"))
    with pytest.raises(UserError, match="model 'contract_mismatch' on .* is not an mrcnn-edge model: it does not "
                                        "match the output contract \\(wrong or missing: output masks float32\\): "
                                        "serve a repository written by `mrcnn-edge export-triton`"):
        Predictor.from_path(http_url(triton_server, "contract_mismatch"))
    with pytest.raises(UserError, match="is not a Triton model URL"):
        Predictor.from_path("triton://127.0.0.1:8001")


def test_bench_and_eval_take_a_triton_model(triton_server, light_models, tmp_path):
    from mrcnn_edge.eval.run import evaluate_artifacts
    from mrcnn_edge.runtime.bench import bench

    result = bench(grpc_url(triton_server), iterations=3, warmup=1, out_dir=str(tmp_path))
    assert result.backend.startswith("triton grpc") and result.iterations == 3
    (_, _, local), (label, _, remote) = evaluate_artifacts([light_models[0], grpc_url(triton_server)], 3, backend=LOCAL_BACKEND)
    assert label == "triton grpc %s/light fp32" % triton_server.endpoints["grpc"]
    assert remote == local and local.box_ap > 0.3


def _children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def _cli(*args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, "-m", "mrcnn_edge.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _ready_lines(serve):
    """serve's stdout up to its last start-up line (or its end, when it fails: it starts within 120 s)."""
    lines = []
    while not lines or not (lines[-1].startswith("Ctrl-C") or lines[-1] == ""):
        lines.append(serve.stdout.readline())
    return lines


def _serve(repo):
    """`mrcnn-edge serve` on free ports: (its process, the gRPC port)."""
    http, grpc, metrics = free_ports(3)
    return _cli("serve", "--repository", repo, "--http-port", str(http), "--grpc-port", str(grpc),
                "--metrics-port", str(metrics)), grpc


def test_serve_then_a_server_killed_mid_stream_gives_one_line(light_models, tmp_path):
    """Its own server, from `mrcnn-edge serve`: `run` streams through it until the server is killed; both
    commands then exit non-zero with one line, and the JSONL written so far is intact."""
    from mrcnn_edge.data.video import make_video

    require_tritonserver()
    repo = write_repository(tmp_path / "repo", light_models[0], None)
    serve, grpc = _serve(repo)
    try:
        lines = _ready_lines(serve)
        assert lines[0].startswith(f"Triton ready on {repo}") and f"gRPC     127.0.0.1:{grpc}" in lines[2], lines
        video = make_video(str(tmp_path / "long.mp4"), num_frames=300, size=128)
        jsonl = tmp_path / "run.jsonl"
        run = _cli("run", "--model", f"triton://127.0.0.1:{grpc}/light", "--source", video, "--jsonl", str(jsonl))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not jsonl.exists() or jsonl.read_text().count("\n") < 3):
            time.sleep(0.1)
        (tritonserver,) = _children(serve.pid)
        os.killpg(tritonserver, signal.SIGKILL)  # the server and its Python backend stubs
        _, run_err = run.communicate(timeout=60)
        _, serve_err = serve.communicate(timeout=30)
    finally:
        for p in (serve, locals().get("run")):
            if p is not None and p.poll() is None:
                p.kill()
    errors = [line for line in run_err.splitlines() if "error" in line.lower() or "Traceback" in line]
    assert run.returncode == 2 and len(errors) == 1, run_err
    assert errors[0].startswith(f"mrcnn-edge run: error: the Triton server at 127.0.0.1:{grpc} stopped answering "
                                "mid-stream")
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert 3 <= len(rows) < 300 and [r["frame"] for r in rows] == list(range(len(rows)))
    assert serve.returncode == 2 and serve_err.strip().splitlines()[-1].startswith(
        "mrcnn-edge serve: error: tritonserver exited with code -9"), serve_err


def test_serve_stops_cleanly_on_sigterm(light_models, tmp_path):
    require_tritonserver()
    repo = write_repository(tmp_path / "repo", light_models[0], None)
    serve, _ = _serve(repo)
    try:
        assert _ready_lines(serve)[0].startswith("Triton ready")
        (tritonserver,) = _children(serve.pid)
        serve.send_signal(signal.SIGTERM)
        out, err = serve.communicate(timeout=60)
    finally:
        if serve.poll() is None:
            serve.kill()
    assert serve.returncode == 0 and "stopped after" in out and "(exit code 0)" in out, err
    assert not os.path.exists(f"/proc/{tritonserver}")  # reaped: no server left behind


def test_no_server_binary_gives_one_line(monkeypatch, tmp_path, capsys):
    import importlib.util

    from mrcnn_edge.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pytriton" else real(name, *a))
    monkeypatch.delenv("TRITONSERVER", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    (tmp_path / "light").mkdir()
    (tmp_path / "light" / "config.pbtxt").write_text('name: "light"\n')  # a repository; only the binary lacks
    assert main(["serve", "--repository", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mrcnn-edge serve: error: no Triton server binary found: pip install "
                                               "--no-deps nvidia-pytriton==0.7.0, or set $TRITONSERVER")


def test_a_model_that_fails_to_load_gives_tritons_reason(light_models, tmp_path):
    from mrcnn_edge.serving.server import TritonServer

    require_tritonserver()
    repo = write_repository(tmp_path / "repo", light_models[0], None)
    os.remove(os.path.join(repo, "light", "1", "model.onnx"))
    server = TritonServer(repo, *free_ports(3), log_path=str(tmp_path / "log"))
    with pytest.raises(UserError) as e:
        server.start()
    message = str(e.value)
    assert message.startswith("tritonserver exited with code 1 before it was ready: failed to load 'light'")
    assert "File doesn't exist" in message and "\n" not in message and "\\n" not in message
    assert server.process.poll() is not None


def test_many_streams_send_concurrent_requests_that_triton_merges(triton_server, light_models, video, tmp_path):
    """run with three streams on a batching Triton model: one request a frame, sent together, so the server
    runs fewer executions than inferences; each stream's JSONL is its local single-stream run's."""
    import tritonclient.grpc as grpcclient

    from mrcnn_edge.runtime.multistream import run_streams
    from mrcnn_edge.runtime.run import run_stream
    from mrcnn_edge.runtime.stream_list import StreamSpec

    client = grpcclient.InferenceServerClient(triton_server.endpoints["grpc"])

    def counts():
        stats = client.get_inference_statistics("light_b", as_json=True)["model_stats"][0]
        return int(stats.get("inference_count", 0)), int(stats.get("execution_count", 0))

    before = counts()
    notes = []
    result = run_streams(Predictor.from_path(grpc_url(triton_server, "light_b"), score_threshold=0.3),
                         [StreamSpec(f"cam{k}", video) for k in range(3)], out_dir=str(tmp_path), live_line=False,
                         notify=notes.append)
    assert result.concurrent and max(result.batch_sizes) == 3 and any("concurrent requests" in n for n in notes)
    deadline = time.monotonic() + 10
    while counts()[0] - before[0] < 36 and time.monotonic() < deadline:  # counted just after answering
        time.sleep(0.05)
    inferences, executions = (a - b for a, b in zip(counts(), before))
    assert inferences == 36 and executions < inferences  # the server merged concurrent requests
    local = Predictor.from_path(light_models[1], threads=THREADS, score_threshold=0.3, backend=LOCAL_BACKEND)
    run_stream(local, video, jsonl=str(tmp_path / "local.jsonl"), live_line=False)
    expected = [json.loads(r) for r in (tmp_path / "local.jsonl").read_text().splitlines()]
    for k in range(3):
        got = [json.loads(r) for r in (tmp_path / f"cam{k}" / "detections.jsonl").read_text().splitlines()]
        assert [r["frame"] for r in got] == list(range(12))
        for a, b in zip(got, expected):
            assert [d["class_id"] for d in a["detections"]] == [d["class_id"] for d in b["detections"]]
            for da, db in zip(a["detections"], b["detections"]):  # batched on the server, alone locally
                np.testing.assert_allclose(da["box"], db["box"], atol=1e-3)
