# SPDX-License-Identifier: AGPL-3.0-or-later
"""The project's command-line programs (files without .py) loaded as modules,
so that the self-tests can call their functions directly."""
import importlib.machinery
import importlib.util


def load_script(path, name):
    loader = importlib.machinery.SourceFileLoader(name, path)
    mod = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader))
    loader.exec_module(mod)
    return mod
