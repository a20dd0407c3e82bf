# SPDX-License-Identifier: AGPL-3.0-or-later
"""The name under which tractor actors load the test service.

tractor's init map names each enabled module by its import name and file
(`enable_modules`); a child appends the file's directory to sys.path and
imports the name.  The adapter's parent exposes scwire_service_tractor under
the namespace `scwire_service`, so the children import this module, which
hands them the very same module object.
"""
import sys

import scwire_service_tractor

sys.modules[__name__] = scwire_service_tractor
