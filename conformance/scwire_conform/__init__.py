# SPDX-License-Identifier: AGPL-3.0-or-later
"""scwire_conform: the library behind the scwire black-box conformance suite.

The suite talks to an implementation under test (the IUT) over TCP only.  This
package holds what the cases in ../cases are built from: the codecs and a
connection that logs every byte (codec, wire, wirelog, msgs, mpk), the IUT's
process (iut), verdicts and reports (verdict, report, plugin), and the
comparison of conversations modulo random ids (normalize).
"""

__version__ = "0.1.0"
PROFILES = ("0.1.0a4",)
