# SPDX-License-Identifier: AGPL-3.0-or-later
"""Is tractor importable here, which one, and where do its files live?

Run by record-vectors with the environment of the tractor processes.  Prints
one JSON object: {"error": "<the import error>"} when `import tractor, trio`
fails, otherwise the versions for the output's README and the directories
that scrubbing replaces by placeholders.
"""
import json
import os
import re
import site
import subprocess
import sys
import sysconfig


def setup_py_version(root):
    """The version in setup.py of a source tree (tractor 0.1.0a4 has no __version__)."""
    try:
        with open(os.path.join(root, "setup.py"), encoding="utf-8") as fh:
            m = re.search(r"version\s*=\s*['\"]([^'\"]+)['\"]", fh.read())
    except OSError:
        return None
    return m.group(1) if m else None


def installed_version():
    from importlib import metadata
    try:
        return metadata.version("tractor")
    except metadata.PackageNotFoundError:
        return None


def git_describe(root):
    # Only a checkout of its own: a tree inside another repository would
    # describe that repository.
    if not os.path.exists(os.path.join(root, ".git")):
        return None
    try:
        out = subprocess.run(["git", "-C", root, "describe", "--tags", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def package_parent(module):
    return os.path.dirname(os.path.dirname(os.path.abspath(module.__file__)))


def site_dirs(*modules):
    dirs = {package_parent(m) for m in modules}
    dirs.update(site.getsitepackages())
    dirs.update(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    return sorted(dirs)


def main():
    try:
        import tractor
        import trio
    except Exception as e:  # any failure to import is the answer, not a crash
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        return
    import msgpack
    root = package_parent(tractor)
    print(json.dumps({
        "tractor_root": root,
        "tractor_version": setup_py_version(root) or installed_version(),
        "git_describe": git_describe(root),
        "python": sys.version.split()[0],
        "python_executable": sys.executable,
        "trio": trio.__version__,
        "msgpack": ".".join(map(str, msgpack.version)),
        "stdlib": sorted({sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib")}),
        "site": site_dirs(trio, msgpack),
    }))


if __name__ == "__main__":
    main()
