"""The DeepStream bundle's [tracker] group: every key one deepstream-app reads (nvinfer_keys.TRACKER, citing
NVIDIA's sources), pointing at NVIDIA's multi-object tracker library and the YAML written beside it."""
from mrcnn_edge.serving.deepstream import TRACKER_CONFIG, TRACKER_YAML, app_config, tracker_group
from mrcnn_edge.serving.nvinfer_keys import APP_GROUPS, TRACKER_YAML_KEYS, config_problems


def test_tracker_group_uses_only_known_keys_with_accepted_values():
    group = app_config(2, (512, 512))["tracker"]
    assert group == tracker_group((512, 512)) and not config_problems({"tracker": group}, APP_GROUPS)
    assert group["ll-lib-file"].endswith("libnvds_nvmultiobjecttracker.so") and group["ll-config-file"] == TRACKER_CONFIG
    assert "maxShadowTrackingAge: 30" in TRACKER_YAML


def test_the_check_refuses_what_deepstream_app_would():
    bad = {**tracker_group((512, 512)), "tracking-id-reset-mode": "7", "tracker-widht": "640"}
    problems = config_problems({"tracker": bad}, APP_GROUPS)
    assert len(problems) == 2 and any("tracker-widht" in p for p in problems) and any("7 is not" in p for p in problems)


def _yaml_key_problems(text: str) -> list[str]:
    """Sections and keys of a low-level tracker YAML that NVIDIA's reference does not list. NVIDIA's samples open
    with `%YAML:1.0` (OpenCV's FileStorage spelling), which PyYAML does not read: it is checked, then dropped."""
    import yaml

    first, _, rest = text.partition("\n")
    assert first == "%YAML:1.0", first
    problems = []
    for section, keys in yaml.safe_load(rest).items():
        known = TRACKER_YAML_KEYS.get(section)
        if known is None:
            problems.append(f"section {section}")
            continue
        problems += [f"{section}.{key}" for key in keys if key not in known]
    return problems


def test_tracker_yaml_uses_only_keys_nvidia_lists():
    assert _yaml_key_problems(TRACKER_YAML) == []
    planted = TRACKER_YAML.replace("probationAge", "probationAges").replace("DataAssociator:", "DataAsociator:")
    assert _yaml_key_problems(planted) == ["TargetManagement.probationAges", "section DataAsociator"]
