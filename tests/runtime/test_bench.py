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
