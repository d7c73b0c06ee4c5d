"""files.write_atomic: the one temp-then-rename that every writer of a whole file (or folder) goes through."""
import os

import pytest

from mrcnn_edge.files import write_atomic


def test_the_file_appears_whole_when_the_block_ends(tmp_path):
    path = str(tmp_path / "report.json")
    with open(path, "w") as f:
        f.write("old")
    with write_atomic(path) as tmp, open(tmp, "w") as f:
        assert tmp == path + ".tmp"
        f.write("new")
        f.flush()
        assert open(path).read() == "old"  # a reader meanwhile sees the old file
    assert open(path).read() == "new" and os.listdir(tmp_path) == ["report.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = str(tmp_path / "model.pth")
    with open(path, "w") as f:
        f.write("old")
    with pytest.raises(KeyboardInterrupt), write_atomic(path) as tmp:
        with open(tmp, "w") as f:
            f.write("half")
        raise KeyboardInterrupt
    assert open(path).read() == "old" and os.listdir(tmp_path) == ["model.pth"]


def test_suffix_and_a_leftover_of_a_killed_run(tmp_path):
    path = str(tmp_path / "video.mp4")
    with open(path + ".tmp.mp4", "w") as f:
        f.write("left by a killed run")
    with write_atomic(path, suffix=".tmp.mp4") as tmp:
        assert tmp.endswith(".mp4") and not os.path.exists(tmp)  # cv2 picks the container by the ending
        with open(tmp, "w") as f:
            f.write("video")
    assert open(path).read() == "video" and os.listdir(tmp_path) == ["video.mp4"]


def test_a_folder_replaces_a_folder(tmp_path):
    root = str(tmp_path / "set")
    os.makedirs(os.path.join(root, "images"))
    with write_atomic(root, suffix=".tmp1") as tmp:
        os.makedirs(os.path.join(tmp, "images2"))
    assert os.listdir(root) == ["images2"] and os.listdir(tmp_path) == ["set"]


def test_a_link(tmp_path):
    target = tmp_path / "a"
    target.write_text("a")
    link = str(tmp_path / "link")
    os.symlink(tmp_path / "gone", link)
    with write_atomic(link, suffix=".7") as tmp:
        os.symlink(target, tmp)
    assert os.readlink(link) == str(target) and sorted(os.listdir(tmp_path)) == ["a", "link"]
