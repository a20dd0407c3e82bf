# SPDX-License-Identifier: AGPL-3.0-or-later
"""The implementations of the interop matrix and how each is started.

An implementation has a server template (it listens and serves
`scwire_service`, in the registry role where it can be one), maybe a
registry-client template (`{registry}`: it registers there), and a client
driver:

- `tractor`: the real tractor 0.1.0a4 (conformance/iut/tractor/run.py as the
  server, tractor_client.py as the client), with SCWIRE_TRACTOR_PYTHONPATH as
  its PYTHONPATH.  When `import tractor, trio` fails there, the
  implementation is unavailable and its cells SKIP with the reason;
- `roles`: an implementation that calls other actors only through its own
  roles (scwire-ref, and every --impl): `scwire_service.ctx_call`
  (test-service.md section 6) and, with `{registry}`, as a registry client;
- `conform`: the suite's own wire library (scwire_conform.wire.Conn), a
  neutral client in the runner's process; it is no server.
"""
import importlib.util
import os
import re
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.realpath(__file__))
CONFORMANCE = os.path.dirname(HERE)
REPO = os.path.dirname(CONFORMANCE)
sys.path.insert(0, CONFORMANCE)


def case_module(name):
    """A module of conformance/cases, loaded under a name of its own so that it
    cannot clash with pytest's `conftest` when the self-tests import this."""
    path = os.path.join(CONFORMANCE, "cases", name + ".py")
    spec = importlib.util.spec_from_file_location("_interop_cases_" + name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# The suite's own rule for a template's {registry} words.
split_registry_template = case_module("conftest").split_registry_template

PYTHON = sys.executable
TRACTOR_SERVER = os.path.join(CONFORMANCE, "iut", "tractor", "run.py")
TRACTOR_CHILD = os.path.join(CONFORMANCE, "iut", "tractor", "child.py")
TRACTOR_CLIENT = os.path.join(HERE, "tractor_client.py")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
PLACEHOLDERS = ("{host}", "{port}")


class UsageError(Exception):
    """A bad command line: exit status 2."""


class Impl:
    def __init__(self, name, server=None, registry_client=None, driver="roles", env=None,
                 available=True, reason="", origin="built in", plain=None, child=None,
                 parent_of_others=False):
        self.name = name
        self.server = server                    # template, or None: no server role
        self.plain = plain or server            # template of a role-driven client
        self.registry_client = registry_client  # template with {registry}, or None
        self.driver = driver                    # "tractor", "roles" or "conform"
        self.env = env or {}                    # extra environment of its processes
        self.available = available
        self.reason = reason                    # why it is unavailable
        self.origin = origin
        # (program, words before --uid, with {codec}) that run it as a child actor
        self.child = child
        # it can start another implementation's children (scwire-ref --child-program)
        self.parent_of_others = parent_of_others

    def command(self, template, more_env=None):
        """The template with the environment put in front (`env K=V ...`), so that
        the suite's IUT launcher starts it unchanged."""
        env = dict(self.env, **(more_env or {}))
        if not env:
            return template
        pairs = " ".join(shlex.quote(f"{k}={v}") for k, v in sorted(env.items()))
        return f"/usr/bin/env {pairs} {template}"

    def as_json(self):
        return {"name": self.name, "server": self.server, "plain": self.plain,
                "registry_client": self.registry_client,
                "driver": self.driver, "env": self.env, "available": self.available,
                "child": list(self.child) if self.child else None,
                "parent_of_others": self.parent_of_others,
                "reason": self.reason, "origin": self.origin}


def tractor_pythonpath():
    return os.environ.get("SCWIRE_TRACTOR_PYTHONPATH", "")


def tractor_available(pythonpath, timeout=60):
    """(True, "") when `import tractor, trio` works with that PYTHONPATH, else
    (False, why); asked in a subprocess, so the runner never imports tractor."""
    env = dict(os.environ, PYTHONPATH=pythonpath)
    try:
        p = subprocess.run([PYTHON, "-W", "ignore", "-c", "import tractor, trio"], env=env,
                           capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, str(e)
    if p.returncode == 0:
        return True, ""
    last = (p.stderr.strip().splitlines() or [f"exit status {p.returncode}"])[-1]
    where = pythonpath or "(SCWIRE_TRACTOR_PYTHONPATH unset or empty)"
    return False, f"tractor is not importable with PYTHONPATH={where}: {last}"


def scwire_ref(binary):
    base = f"{shlex.quote(binary)} --listen {{host}}:{{port}} --codec {{codec}}"
    impl = Impl("scwire-ref", server=base + " --registry-role", plain=base,
                registry_client=base + " --name scwire-ref-client --registry {registry}",
                parent_of_others=True)
    if not os.access(binary, os.X_OK):
        impl.available, impl.reason = False, f"{binary} is not built (run make)"
    return impl


def tractor(codec):
    pythonpath = tractor_pythonpath()
    impl = Impl("tractor", driver="tractor", env={"PYTHONPATH": pythonpath},
                server=f"{shlex.quote(PYTHON)} {shlex.quote(TRACTOR_SERVER)} "
                       "--listen {host}:{port} --codec {codec}",
                child=(PYTHON, [TRACTOR_CHILD, "--codec", "{codec}"]))
    impl.available, impl.reason = tractor_available(pythonpath)
    if impl.available and codec == "lenprefix":
        if not tractor_has_msgspec(pythonpath):
            impl.available = False
            impl.reason = "tractor 0.1.0a4 speaks lenprefix only when msgspec imports"
    return impl


def parent_template(parent, child_impl):
    """The template that makes `parent` the parent of `child_impl`'s children, or
    None when it cannot be."""
    if child_impl.name == parent.name:
        return parent.plain
    if not (parent.parent_of_others and child_impl.child):
        return None
    program, words = child_impl.child
    lead = "".join(f" --child-arg={shlex.quote(w)}" for w in words)
    # A tractor child needs a registry address in its init map (the SUP-5 row of
    # spec/profiles.md): the parent is one.
    return f"{parent.plain} --registry-role --child-program={shlex.quote(program)}{lead}"


def tractor_has_msgspec(pythonpath):
    env = dict(os.environ, PYTHONPATH=pythonpath)
    p = subprocess.run([PYTHON, "-c", "import msgspec"], env=env, capture_output=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    return p.returncode == 0


def conform():
    return Impl("scwire-conform", driver="conform", origin="the suite's wire library")


def parse_impl(text):
    """An --impl NAME=TEMPLATE: a server (and, with {registry}, a registry client)."""
    name, sep, template = text.partition("=")
    name = name.strip()
    if not sep or not NAME_RE.match(name):
        raise UsageError(f"--impl: expected NAME=TEMPLATE with a NAME of letters, digits, "
                         f"'_', '.', '-'; got {text!r}")
    try:
        words = shlex.split(template)
    except ValueError as e:
        raise UsageError(f"--impl {name}: {e}") from None
    if not words:
        raise UsageError(f"--impl {name}: empty command template")
    missing = [p for p in PLACEHOLDERS if p not in template]
    if missing:
        raise UsageError(f"--impl {name}: the template needs {' and '.join(missing)}")
    server, full = split_registry_template(template)
    return Impl(name, server=server, registry_client=full if "{registry}" in full else None,
                origin="--impl")


def implementations(args):
    """Every implementation of the run, in matrix order."""
    impls = [scwire_ref(args.scwire_ref), tractor(args.codec)]
    for text in args.impl:
        impl = parse_impl(text)
        if any(i.name == impl.name for i in impls) or impl.name == "scwire-conform":
            raise UsageError(f"--impl {impl.name}: that name is taken")
        impls.append(impl)
    if not args.no_conform:
        impls.append(conform())
    return impls
