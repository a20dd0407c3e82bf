# SPDX-License-Identifier: AGPL-3.0-or-later
"""scwire_tools - shared code of the protocol-engineer tools scwire-trace and scwire-send.

Modules, one purpose each:

- `jsonview`  the JSON view of msgpack values used by trace files and stdin lines;
- `codec`     the two wire codecs (`msgpack`, `lenprefix`), incremental decoding;
- `trace`     reading and writing trace files (one JSON object a line);
- `classify`  the kind, cid and one-line summary of a message;
- `listing`   the text/ANSI/HTML listing of a trace and its statistics;
- `diagram`   a sequence diagram of a trace as a self-contained SVG;
- `pcap`      capture files: read pcap and pcapng, write pcap;
- `tcpflow`   TCP reassembly of captured frames into trace entries, and back;
- `normalize` comparison of conversations modulo uuids, cids and tracebacks;
- `client`    a blocking client connection that speaks the protocol;
- `session`   the interactive (netcat) mode of scwire-send;
- `replay`    replaying one recorded connection against a live target.
"""


class ToolError(Exception):
    """A failure that the command line reports as one line, with an exit status.

    `status` 2 means bad input or usage, 1 a failure of the operation itself.
    """

    def __init__(self, message, status=2):
        super().__init__(message)
        self.status = status
