# SPDX-License-Identifier: AGPL-3.0-or-later
"""A tractor root actor that serves the module `svc` until it is stopped.

    daemon.py --name NAME --registry HOST:PORT [--loglevel LEVEL]

Nothing listening at --registry: it becomes the registry ("arbiter") there.
Otherwise it registers with that registry and listens on a free port.  The
recorder starts one per scenario and stops it with SIGINT.
"""
import argparse

import tractor

from common import parse_addr


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--name", required=True)
    ap.add_argument("--registry", required=True, type=parse_addr)
    ap.add_argument("--loglevel", default="runtime")
    args = ap.parse_args()
    tractor.run_daemon(
        ['svc'],
        name=args.name,
        arbiter_addr=args.registry,
        start_method='trio',
        loglevel=args.loglevel,
    )


if __name__ == '__main__':
    main()
