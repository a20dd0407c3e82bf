# SPDX-License-Identifier: AGPL-3.0-or-later
"""TCP conversations in captured frames, as trace entries; and back.

`capture_to_entries` parses link, IPv4/IPv6 and TCP headers itself (no
library), keeps the TCP connections that have one of the given ports on the
accepting side, reassembles each direction by sequence number (out-of-order
segments held, retransmitted and overlapping bytes dropped) and decodes the
byte streams with the codec.  The result is the trace format of trace.py with
"t" in seconds since the first packet: open, messages, eof (FIN), rst,
decode_error.

`entries_to_frames` goes the other way: it turns trace entries into Ethernet
frames of one IPv4 TCP connection per conn, so a recorded trace can be opened
in Wireshark (with tools/wireshark/scwire.lua) or fed to scwire-trace --pcap.
"""
import socket
import struct

from .codec import CodecError, Decoder, frame, pack
from .jsonview import from_json, to_json
from .pcap import read_records

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
_MOD = 1 << 32


# ---- headers -------------------------------------------------------------------------------

def _ip_from_link(linktype, data):
    """The IP packet inside a link-layer frame, or None."""
    if linktype == 1:                                  # Ethernet, maybe VLAN-tagged
        off = 12
        while off + 2 <= len(data):
            etype = struct.unpack_from(">H", data, off)[0]
            if etype in (0x8100, 0x88A8, 0x9100):
                off += 4
                continue
            return data[off + 2:] if etype in (0x0800, 0x86DD) else None
        return None
    if linktype in (0, 108):                           # BSD loopback: address family
        if len(data) < 4:
            return None
        fam = struct.unpack_from(">I" if linktype == 108 else "<I", data)[0]
        if linktype == 0 and fam > 0xFFFF:             # written in the other byte order
            fam = struct.unpack_from(">I", data)[0]
        return data[4:] if fam in (2, 24, 28, 30) else None
    if linktype in (101, 12, 14, 228, 229):            # raw IP
        return data
    if linktype == 113:                                # Linux cooked (SLL)
        if len(data) < 16:
            return None
        return data[16:] if struct.unpack_from(">H", data, 14)[0] in (0x0800, 0x86DD) else None
    if linktype == 276:                                # Linux cooked v2 (SLL2)
        if len(data) < 20:
            return None
        return data[20:] if struct.unpack_from(">H", data, 0)[0] in (0x0800, 0x86DD) else None
    return None


def parse_tcp(linktype, data):
    """(src, sport, dst, dport, seq, flags, payload) of a TCP segment, else None.

    The string "fragment" instead of a tuple means an IP fragment (not reassembled).
    """
    ip = _ip_from_link(linktype, data)
    if not ip:
        return None
    version = ip[0] >> 4
    if version == 4:
        if len(ip) < 20:
            return None
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack_from(">H", ip, 2)[0]
        frag = struct.unpack_from(">H", ip, 6)[0]
        if ip[9] != 6:
            return None
        if frag & 0x3FFF:                              # MF set or an offset: a fragment
            return "fragment"
        # The IP length, not the frame length: Ethernet pads short frames.
        seg = ip[ihl:total] if total >= ihl else ip[ihl:]
        src = socket.inet_ntop(socket.AF_INET, ip[12:16])
        dst = socket.inet_ntop(socket.AF_INET, ip[16:20])
    elif version == 6:
        if len(ip) < 40:
            return None
        plen = struct.unpack_from(">H", ip, 4)[0]
        nxt, off = ip[6], 40
        end = 40 + plen if plen else len(ip)
        while nxt in (0, 43, 60, 44):
            if nxt == 44:
                return "fragment"
            if off + 2 > len(ip):
                return None
            nxt, off = ip[off], off + (ip[off + 1] + 1) * 8
        if nxt != 6:
            return None
        seg = ip[off:end]
        src = socket.inet_ntop(socket.AF_INET6, ip[8:24])
        dst = socket.inet_ntop(socket.AF_INET6, ip[24:40])
    else:
        return None
    if len(seg) < 20:
        return None
    sport, dport, seq = struct.unpack_from(">HHI", seg, 0)
    doff = (seg[12] >> 4) * 4
    flags = seg[13]
    return src, sport, dst, dport, seq, flags, bytes(seg[doff:])


# ---- reassembly ----------------------------------------------------------------------------

class _Stream:
    """One direction of one connection."""

    def __init__(self, codec):
        self.isn = None          # sequence number of the first data byte
        self.next = 0            # next expected offset relative to isn
        self.held = {}           # offset -> bytes, segments beyond a gap
        self.fin_at = None
        self.ended = False
        self.decoder = Decoder(codec)


class _Conn:
    def __init__(self, name, codec):
        self.name = name
        self.streams = {"c2s": _Stream(codec), "s2c": _Stream(codec)}
        self.done = False


class Reassembler:
    """Feeds TCP segments in capture order; collects trace entries."""

    def __init__(self, ports, codec, warn=None):
        self.ports = set(ports)
        self.codec = codec
        self.warn = warn or (lambda text: None)
        self.conns = {}          # (client addr, client port, server addr, server port) -> _Conn
        self.count = 0
        self.entries = []
        self.t0 = None
        self._fragments = 0
        self._late = 0

    def _t(self, ts):
        if self.t0 is None:
            self.t0 = ts
        return round(ts - self.t0, 6)

    def packet(self, ts, linktype, data):
        seg = parse_tcp(linktype, data)
        if seg == "fragment":
            self._fragments += 1
            return
        if seg is None:
            return
        src, sport, dst, dport, seq, flags, payload = seg
        if dport in self.ports:
            key, d = (src, sport, dst, dport), "c2s"
        elif sport in self.ports:
            key, d = (dst, dport, src, sport), "s2c"
        else:
            return
        t = self._t(ts)
        conn = self.conns.get(key)
        if flags & SYN and not flags & ACK and d == "c2s":
            if conn is not None and conn.streams["c2s"].isn == (seq + 1) % _MOD:
                return                                    # a retransmitted SYN
            conn = self._open(key, t)
            conn.streams["c2s"].isn = (seq + 1) % _MOD
            return
        if conn is not None and conn.done:
            # After a RST only a new SYN starts a connection on these ports;
            # stray retransmissions belong to the one that ended.
            self._late += 1
            return
        if conn is None:
            if flags & RST:
                return
            conn = self._open(key, t)
            self.warn(f"{conn.name}: no SYN seen (capture started inside the connection); "
                      f"its first bytes may be missing")
        st = conn.streams[d]
        if flags & SYN:                                   # SYN-ACK
            st.isn = (seq + 1) % _MOD
            return
        if st.isn is None:
            st.isn = seq
        rel = (seq - st.isn) % _MOD
        if payload:
            st.held[rel] = payload if len(payload) >= len(st.held.get(rel, b"")) else st.held[rel]
        if flags & FIN:
            st.fin_at = rel + len(payload)
        self._drain(conn, d, t)
        if flags & RST:
            self._add(t, conn, {"event": "rst", "dir": d})
            self._finish(conn, t)

    def _open(self, key, t):
        self.count += 1
        conn = _Conn(f"c{self.count}", self.codec)
        self.conns[key] = conn
        self._add(t, conn, {"event": "open"})
        return conn

    def _add(self, t, conn, fields):
        self.entries.append({"t": t, "conn": conn.name, **fields})

    def _drain(self, conn, d, t):
        st = conn.streams[d]
        progress = True
        while progress:
            progress = False
            for off in sorted(st.held):
                data = st.held[off]
                if off + len(data) <= st.next:           # all seen before: a retransmission
                    del st.held[off]
                    progress = True
                    continue
                if off <= st.next:
                    del st.held[off]
                    new = data[st.next - off:]
                    st.next += len(new)
                    self._decode(conn, d, st, new, t)
                    progress = True
                break
        if st.fin_at is not None and st.next >= st.fin_at and not st.ended:
            st.ended = True
            if st.decoder.pending and not st.decoder.error:
                self._add(t, conn, {"event": "decode_error", "dir": d,
                                    "error": "stream ended inside a message (truncated)",
                                    "hex": st.decoder.pending_bytes().hex()})
            self._add(t, conn, {"event": "eof", "dir": d})

    def _decode(self, conn, d, st, data, t):
        if st.decoder.error:
            return
        try:
            msgs = st.decoder.feed(data)
        except CodecError as e:
            self._add(t, conn, {"event": "decode_error", "dir": d, "error": str(e),
                                "hex": st.decoder.pending_bytes().hex()})
            return
        for value, raw in msgs:
            self._add(t, conn, {"dir": d, "hex": raw.hex(), "msg": to_json(value)})

    def _finish(self, conn, t):
        conn.done = True
        for d, st in conn.streams.items():
            if st.held:
                lost = min(st.held) - st.next
                self.warn(f"{conn.name} {d}: {lost} bytes missing at stream offset {st.next} "
                          f"(lost in the capture); {sum(map(len, st.held.values()))} bytes after "
                          f"the gap not decoded")
                st.held.clear()

    def close(self):
        """End of the capture: report gaps; returns the entries."""
        for conn in self.conns.values():
            if not conn.done:
                self._finish(conn, None)
        if self._late:
            self.warn(f"{self._late} segments after a connection's RST ignored")
        if self._fragments:
            self.warn(f"{self._fragments} IP fragments skipped (not reassembled)")
        return self.entries


def capture_to_entries(path, ports, codec="msgpack", warn=None):
    """Trace entries of the TCP traffic on `ports` in a pcap/pcapng file."""
    r = Reassembler(ports, codec, warn)
    for ts, linktype, data in read_records(path, warn):
        r.packet(ts, linktype, data)
    return r.close()


# ---- synthesis -----------------------------------------------------------------------------

def _checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f">{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tcp_frame(src_port, dst_port, seq, ack, flags, payload=b"", src="127.0.0.1", dst="127.0.0.1"):
    """One Ethernet/IPv4/TCP frame with valid checksums."""
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    tcp = struct.pack(">HHIIBBHHH", src_port, dst_port, seq % _MOD, ack % _MOD, 5 << 4, flags,
                      65535, 0, 0) + payload
    csum = _checksum(s + d + struct.pack(">BBH", 0, 6, len(tcp)) + tcp)
    tcp = tcp[:16] + struct.pack(">H", csum) + tcp[18:]
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, s, d)
    ip = ip[:10] + struct.pack(">H", _checksum(ip)) + ip[12:]
    return b"\0" * 12 + b"\x08\x00" + ip + tcp


def entries_to_frames(entries, port, codec="msgpack", segment=1400, client_port=40000):
    """(timestamp, frame) pairs of trace entries as TCP over IPv4 on loopback.

    One connection per conn (client ports client_port, client_port+1, ...),
    handshaked at its first entry; a message (framed with the codec) goes in
    segments of at most `segment` bytes; decode_error and raw entries send
    their hex as it is; eof is a FIN, rst a RST.
    """
    state = {}
    frames = []
    clock = [0.0]

    def ts_of(e):
        t = e.get("t")
        clock[0] = float(t) if isinstance(t, (int, float)) else clock[0] + 0.001
        return clock[0]

    for e in entries:
        conn = e.get("conn")
        ts = ts_of(e)
        if conn not in state:
            cport = client_port + len(state)
            st = state[conn] = {"port": cport, "seq": {"c2s": 1000, "s2c": 5000}, "dead": False}
            frames.append((ts, tcp_frame(cport, port, 999, 0, SYN)))
            frames.append((ts, tcp_frame(port, cport, 4999, 1000, SYN | ACK)))
            frames.append((ts, tcp_frame(cport, port, 1000, 5000, ACK)))
        st = state[conn]
        if st["dead"]:
            continue
        d = e.get("dir")
        ev = e.get("event")
        if d not in ("c2s", "s2c") or ev in ("open", "close"):
            continue
        sp, dp = (st["port"], port) if d == "c2s" else (port, st["port"])
        other = "s2c" if d == "c2s" else "c2s"
        if ev in ("eof", "rst"):
            fl = (FIN | ACK) if ev == "eof" else (RST | ACK)
            frames.append((ts, tcp_frame(sp, dp, st["seq"][d], st["seq"][other], fl)))
            st["seq"][d] += 1
            st["dead"] = ev == "rst"
            continue
        if ev == "decode_error" or e.get("raw") or "msg" not in e:
            data = bytes.fromhex(e.get("hex", ""))
        elif "hex" in e:
            data = frame(bytes.fromhex(e["hex"]), codec)
        else:
            data = frame(pack(from_json(e["msg"])), codec)
        for i in range(0, len(data), max(segment, 1)):
            chunk = data[i:i + segment]
            frames.append((ts, tcp_frame(sp, dp, st["seq"][d], st["seq"][other], PSH | ACK, chunk)))
            st["seq"][d] += len(chunk)
    return frames
