# SPDX-License-Identifier: AGPL-3.0-or-later
"""Packet capture files: read classic libpcap and pcapng, write classic libpcap.

`read_records(path, warn)` yields `(timestamp, linktype, frame_bytes)` for
every captured packet, whatever the container.  Classic pcap in both byte
orders with micro- or nanosecond stamps; pcapng with any number of sections
and interfaces (Enhanced, Simple and obsolete Packet Blocks; if_tsresol
honoured).  A file cut inside its last packet (a capture that was killed)
gives a warning and the packets before it; anything else malformed is a
ToolError.  `write_pcap` writes classic microsecond pcap.
"""
import struct

from . import ToolError

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_BOM = 0x1A2B3C4D
LINKTYPE_ETHERNET = 1


def read_records(path, warn=None):
    """Packets of a capture file: (timestamp seconds, linktype, bytes)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as e:
        raise ToolError(f"{path}: cannot read: {e.strerror or e}") from None
    if len(data) < 4:
        raise ToolError(f"{path}: not a pcap or pcapng file (only {len(data)} bytes)")
    magic_le = struct.unpack_from("<I", data)[0]
    if magic_le == PCAPNG_SHB:
        return _pcapng(path, data, warn)
    for order in ("<", ">"):
        magic = struct.unpack_from(order + "I", data)[0]
        if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
            return _pcap(path, data, order, 1e-9 if magic == PCAP_MAGIC_NS else 1e-6, warn)
    raise ToolError(f"{path}: not a pcap or pcapng file (magic {data[:4].hex()})")


def _pcap(path, data, order, unit, warn):
    if len(data) < 24:
        raise ToolError(f"{path}: pcap global header cut short ({len(data)} bytes)")
    linktype = struct.unpack_from(order + "I", data, 20)[0] & 0xFFFF
    off = 24
    out = []
    while off < len(data):
        if off + 16 > len(data):
            _cut(path, off, warn)
            break
        sec, frac, incl, _orig = struct.unpack_from(order + "IIII", data, off)
        if off + 16 + incl > len(data):
            _cut(path, off, warn)
            break
        out.append((sec + frac * unit, linktype, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return out


def _cut(path, off, warn):
    if warn:
        warn(f"{path}: file ends inside a packet record at byte {off} (capture cut short); "
             f"using the packets before it")


def _pcapng(path, data, warn):
    out = []
    off = 0
    order = "<"
    ifaces = []          # (linktype, seconds per tick) of the current section
    while off < len(data):
        if off + 12 > len(data):
            _cut(path, off, warn)
            break
        btype = struct.unpack_from(order + "I", data, off)[0]
        if btype == PCAPNG_SHB:
            bom = data[off + 8:off + 12]
            if bom == struct.pack("<I", PCAPNG_BOM):
                order = "<"
            elif bom == struct.pack(">I", PCAPNG_BOM):
                order = ">"
            else:
                raise ToolError(f"{path}: pcapng section header with a bad byte-order magic "
                                f"at byte {off}")
            ifaces = []
        blen = struct.unpack_from(order + "I", data, off + 4)[0]
        if blen < 12 or blen % 4:
            raise ToolError(f"{path}: pcapng block of bad length {blen} at byte {off}")
        if off + blen > len(data):
            _cut(path, off, warn)
            break
        body = data[off + 8:off + blen - 4]
        if btype == 1:                                   # Interface Description
            linktype = struct.unpack_from(order + "H", body, 0)[0]
            ifaces.append((linktype, _tsresol(body[8:], order)))
        elif btype == 6:                                 # Enhanced Packet
            ifid, hi, lo, cap, _orig = struct.unpack_from(order + "IIIII", body, 0)
            out.append(_ng_packet(path, off, ifaces, ifid, (hi << 32) | lo, body[20:20 + cap]))
        elif btype == 3:                                 # Simple Packet
            out.append(_ng_packet(path, off, ifaces, 0, None, body[4:]))
        elif btype == 2:                                 # Packet (obsolete)
            ifid, _drops, hi, lo, cap, _orig = struct.unpack_from(order + "HHIIII", body, 0)
            out.append(_ng_packet(path, off, ifaces, ifid, (hi << 32) | lo, body[20:20 + cap]))
        off += blen
    return out


def _ng_packet(path, off, ifaces, ifid, ticks, frame):
    if ifid >= len(ifaces):
        raise ToolError(f"{path}: pcapng packet at byte {off} names interface {ifid}, "
                        f"which was not described")
    linktype, unit = ifaces[ifid]
    return ((ticks * unit) if ticks is not None else 0.0, linktype, frame)


def _tsresol(options, order):
    """Seconds per timestamp tick from an IDB's options (default microseconds)."""
    off = 0
    while off + 4 <= len(options):
        code, length = struct.unpack_from(order + "HH", options, off)
        if code == 0:
            break
        if code == 9 and length >= 1:
            v = options[off + 4]
            return 2.0 ** -(v & 0x7F) if v & 0x80 else 10.0 ** -v
        off += 4 + (length + 3) // 4 * 4
    return 1e-6


def write_pcap(path, packets, linktype=LINKTYPE_ETHERNET):
    """Write classic pcap (microseconds) from (timestamp, frame bytes) pairs."""
    with open(path, "wb") as fh:
        fh.write(struct.pack("<IHHiIII", PCAP_MAGIC_US, 2, 4, 0, 0, 262144, linktype))
        for ts, frame in packets:
            sec = int(ts)
            usec = int(round((ts - sec) * 1e6))
            if usec >= 1000000:
                sec, usec = sec + 1, usec - 1000000
            fh.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)))
            fh.write(frame)
