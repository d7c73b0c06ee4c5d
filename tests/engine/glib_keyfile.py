"""GLib's own key-file parser as the oracle for deepstream-app and nvinfer configs (both read them with
g_key_file_load_from_file). The toolkit's venv has no PyGObject; Debian's python3-gi (system python3)
does, so the parse runs there: groups -> keys -> raw values as JSON, or GLib's error and exit 1."""
import json
import shutil
import subprocess

import pytest

_SCRIPT = """
import json, sys
import gi
gi.require_version("GLib", "2.0")
from gi.repository import GLib
k = GLib.KeyFile()
try:
    k.load_from_file(sys.argv[1], GLib.KeyFileFlags.NONE)
except GLib.Error as e:
    print(e.message, file=sys.stderr)
    sys.exit(1)
groups = k.get_groups()[0]
print(json.dumps({g: {key: k.get_value(g, key) for key in k.get_keys(g)[0]} for g in groups}))
"""
CANDIDATES = ("/usr/bin/python3", "python3")


def _interpreter():
    for candidate in CANDIDATES:
        path = shutil.which(candidate)
        if path and subprocess.run([path, "-c", "import gi; gi.require_version('GLib', '2.0')"],
                                   capture_output=True).returncode == 0:
            return path
    return None


def glib_parse(path) -> tuple[dict | None, str]:
    """(groups, "") when GLib loads path, else (None, GLib's message)."""
    python = _interpreter()
    if python is None:
        pytest.skip("no python3 with PyGObject (Debian: apt-get install python3-gi gir1.2-glib-2.0)")
    done = subprocess.run([python, "-c", _SCRIPT, str(path)], capture_output=True, text=True)
    return (json.loads(done.stdout), "") if done.returncode == 0 else (None, done.stderr.strip())
