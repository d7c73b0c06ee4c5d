import json

from mrcnn_edge.runtime.bench import bench


def test_bench_with_a_stand_in(tmp_path, small_video, make_stand_in):

    result = bench(make_stand_in(infer_s=0.005), video=small_video[0], warmup=2, iterations=20,
                   out_dir=str(tmp_path))
    lat = result.latency_ms
    assert result.iterations == 20 and 5 <= lat["min"] <= lat["p50"] <= lat["p99"] <= lat["max"]
    assert result.infer_ms["p50"] <= lat["p50"]
    assert abs(result.speedup_vs_5fps - result.throughput_fps / 5) < 1e-9
    saved = json.load(open(result.outputs["json"]))
    assert saved["iterations"] == 20 and saved["speedup_vs_eager"] is None
    assert open(result.outputs["row"]).read().count("| stand-in | fp32 | 64x64 |") == 1


def test_bench_streams_batched_against_one_by_one(tmp_path, small_video, exported_model):
    from types import SimpleNamespace

    import pytest

    from mrcnn_edge.data.synthetic import VAL
    from mrcnn_edge.errors import UserError
    from mrcnn_edge.runtime.predictor import Predictor
    from mrcnn_edge.runtime.stream_bench import bench_streams, cpu_isa, parse_counts

    predictor = Predictor.from_path(exported_model("shipped", (VAL.height, VAL.width), batch_size=None),
                                    backend="onnxruntime")
    result = bench_streams(predictor, parse_counts("1,3"), frames_per_stream=3, video=small_video[0],
                           out_dir=str(tmp_path))
    rows = {(r.streams, r.mode): r for r in result.rows}
    assert set(rows) == {(1, "batched"), (1, "one by one"), (3, "batched"), (3, "one by one")}
    assert all(r.frames == 3 * r.streams and r.throughput_fps > 0 and r.p50_ms <= r.p99_ms for r in rows.values())
    assert rows[(3, "one by one")].batch_sizes == {"1": 9}  # one call per frame
    assert "3" in rows[(3, "batched")].batch_sizes  # the three streams in one call
    flags = open("/proc/cpuinfo").read()
    assert ("AVX2" in result.isa) == (" avx2 " in flags) and result.isa == cpu_isa()
    assert "| 3 | batched |" in open(result.outputs["table"]).read()
    assert json.load(open(result.outputs["json"]))["rows"][0]["streams"] == 1
    batch_one = SimpleNamespace(backend=SimpleNamespace(input_shape=[1, 3, 512, 512]))  # what a batch-1 export says
    with pytest.raises(UserError, match="--dynamic-batch"):
        bench_streams(batch_one, [2], frames_per_stream=1, video=small_video[0], out_dir=str(tmp_path))
    with pytest.raises(UserError, match="e.g. 1,2,4,8"):
        parse_counts("1,x")
