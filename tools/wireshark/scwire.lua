-- SPDX-License-Identifier: AGPL-3.0-or-later
--[[
scwire.lua - Wireshark dissector for the tractor 0.1.0a4 wire protocol (scwire).

Messages are msgpack values over TCP, with one of two codecs:
  msgpack    objects back to back, no framing;
  lenprefix  a 4-byte little-endian length, then that many bytes of msgpack.
The codec is not announced on the wire, so it is a preference, as is the TCP
port of the accepting side (default 1616, tractor's registry port).

Load it with
  wireshark -X lua_script:tools/wireshark/scwire.lua -o scwire.port:1616
  tshark -r cap.pcap -X lua_script:tools/wireshark/scwire.lua \
         -o scwire.port:40123 -o scwire.codec:lenprefix -T fields -e scwire.kind -e scwire.cid
or copy it to ~/.local/lib/wireshark/plugins/.

It decodes msgpack itself (no library), reassembles messages that span TCP
segments (desegment_len) and shows per message: the kind (handshake, cmd,
functype, return, started, yield, stop, error, actor-error, nil, other), the
cid, the handshake's name and uuid, cmd namespace/function/kwargs/caller,
functype, error type_str and the last line of tb_str, and a summary of the
value.  The Info column lists "kind shortcid" of each message of the frame.

Fields (filter names): scwire.kind, scwire.cid (present on every message,
empty when it has none, so that -e scwire.kind -e scwire.cid line up),
scwire.dir (c2s/s2c), scwire.len (lenprefix header), scwire.msg_len,
scwire.handshake.name, scwire.handshake.uuid, scwire.cmd.ns, scwire.cmd.func,
scwire.cmd.kwargs, scwire.cmd.caller, scwire.functype, scwire.error.type_str,
scwire.error.tb_last, scwire.error.tb_str, scwire.value.

The handshake is the first message each way of a TCP stream, as seen in the
capture: a capture that starts inside a connection shows its first message
seen as the handshake.
]]

local scwire = Proto("scwire", "scwire: tractor 0.1.0a4 wire protocol")

local CODEC_MSGPACK, CODEC_LENPREFIX = 1, 2
local codec_enum = {
    { 1, "msgpack", CODEC_MSGPACK },
    { 2, "lenprefix", CODEC_LENPREFIX },
}
scwire.prefs.port = Pref.uint("TCP port", 1616, "TCP port of the accepting side (0: none)")
scwire.prefs.codec = Pref.enum("Codec", CODEC_MSGPACK,
    "msgpack: objects back to back; lenprefix: 4-byte little-endian length + body",
    codec_enum, false)

local f = scwire.fields
f.kind = ProtoField.string("scwire.kind", "Kind")
f.cid = ProtoField.string("scwire.cid", "Context id")
f.dir = ProtoField.string("scwire.dir", "Direction")
f.len = ProtoField.uint32("scwire.len", "Frame length")
f.msg_len = ProtoField.uint32("scwire.msg_len", "Message length")
f.hs_name = ProtoField.string("scwire.handshake.name", "Actor name")
f.hs_uuid = ProtoField.string("scwire.handshake.uuid", "Actor uuid")
f.ns = ProtoField.string("scwire.cmd.ns", "Namespace")
f.func = ProtoField.string("scwire.cmd.func", "Function")
f.kwargs = ProtoField.string("scwire.cmd.kwargs", "Kwargs")
f.caller = ProtoField.string("scwire.cmd.caller", "Caller uid")
f.functype = ProtoField.string("scwire.functype", "Function type")
f.err_type = ProtoField.string("scwire.error.type_str", "Error type")
f.err_last = ProtoField.string("scwire.error.tb_last", "Traceback, last line")
f.err_tb = ProtoField.string("scwire.error.tb_str", "Traceback")
f.value = ProtoField.string("scwire.value", "Value")

local ex_decode = ProtoExpert.new("scwire.decode_error", "Not valid msgpack",
    expert.group.MALFORMED, expert.severity.ERROR)
local ex_uid = ProtoExpert.new("scwire.bad_uid", "First message is not a uid [name, uuid]",
    expert.group.PROTOCOL, expert.severity.WARN)
local ex_error = ProtoExpert.new("scwire.error", "Remote error",
    expert.group.RESPONSE_CODE, expert.severity.NOTE)
scwire.experts = { ex_decode, ex_uid, ex_error }

local tcp_stream_f = Field.new("tcp.stream")

-- First message of each (TCP stream, direction): set on the first pass, read
-- on every pass, so a later re-dissection still knows which was the handshake.
local first_msg = {}

function scwire.init()
    first_msg = {}
end

---------------------------------------------------------------------------------------------
-- msgpack decoding.  Values are tables {t = type, off = offset, size = bytes, ...}.
-- SHORT means the data ends inside the value (wait for more segments); any
-- other error is a table {bad = "reason"}.

local SHORT = {}
local MAX_DEPTH = 64

local function need(limit, off, n)
    if off + n > limit then error(SHORT, 0) end
end

local function bad(text)
    error({ bad = text }, 0)
end

local decode

local function decode_str(tvb, off, limit, hlen, n)
    need(limit, off, hlen + n)
    local s = n > 0 and tvb:range(off + hlen, n):string() or ""
    return { t = "str", v = s, off = off, size = hlen + n, soff = off + hlen, slen = n }
end

local function decode_bin(tvb, off, limit, hlen, n)
    need(limit, off, hlen + n)
    local hex = n > 0 and tvb:range(off + hlen, math.min(n, 16)):bytes():tohex():lower() or ""
    return { t = "bin", n = n, hex = hex, off = off, size = hlen + n }
end

local function decode_ext(tvb, off, limit, hlen, n)
    need(limit, off, hlen + n)
    local code = tvb:range(off + hlen - 1, 1):int()
    return { t = "ext", code = code, n = n, off = off, size = hlen + n }
end

local function decode_array(tvb, off, limit, hlen, n, depth)
    need(limit, off, hlen)
    -- Every item takes at least one byte: a count beyond the data is incomplete.
    need(limit, off + hlen, n)
    local items = {}
    local p = off + hlen
    for i = 1, n do
        local v = decode(tvb, p, limit, depth + 1)
        items[i] = v
        p = p + v.size
    end
    return { t = "array", items = items, off = off, size = p - off }
end

local function decode_map(tvb, off, limit, hlen, n, depth)
    need(limit, off, hlen)
    need(limit, off + hlen, 2 * n)
    local keys, vals = {}, {}
    local p = off + hlen
    for i = 1, n do
        local k = decode(tvb, p, limit, depth + 1)
        p = p + k.size
        local v = decode(tvb, p, limit, depth + 1)
        p = p + v.size
        keys[i], vals[i] = k, v
    end
    return { t = "map", keys = keys, vals = vals, off = off, size = p - off }
end

local function int(s, off, size, n)
    return { t = "int", s = s, n = n, off = off, size = size }
end

decode = function(tvb, off, limit, depth)
    if depth > MAX_DEPTH then bad("nesting deeper than " .. MAX_DEPTH) end
    need(limit, off, 1)
    local b = tvb:range(off, 1):uint()
    if b <= 0x7f then return int(tostring(b), off, 1, b) end
    if b <= 0x8f then return decode_map(tvb, off, limit, 1, b - 0x80, depth) end
    if b <= 0x9f then return decode_array(tvb, off, limit, 1, b - 0x90, depth) end
    if b <= 0xbf then return decode_str(tvb, off, limit, 1, b - 0xa0) end
    if b >= 0xe0 then return int(tostring(b - 256), off, 1, b - 256) end
    if b == 0xc0 then return { t = "nil", off = off, size = 1 } end
    if b == 0xc1 then bad("byte 0xc1 is never used in msgpack") end
    if b == 0xc2 then return { t = "bool", v = false, off = off, size = 1 } end
    if b == 0xc3 then return { t = "bool", v = true, off = off, size = 1 } end
    local function len(n)
        need(limit, off, 1 + n)
        return tvb:range(off + 1, n):uint()
    end
    if b == 0xc4 then return decode_bin(tvb, off, limit, 2, len(1)) end
    if b == 0xc5 then return decode_bin(tvb, off, limit, 3, len(2)) end
    if b == 0xc6 then return decode_bin(tvb, off, limit, 5, len(4)) end
    if b == 0xc7 then return decode_ext(tvb, off, limit, 3, len(1)) end
    if b == 0xc8 then return decode_ext(tvb, off, limit, 4, len(2)) end
    if b == 0xc9 then return decode_ext(tvb, off, limit, 6, len(4)) end
    if b == 0xca then
        need(limit, off, 5)
        local x = tvb:range(off + 1, 4):float()
        return { t = "float", s = string.format("%.9g", x), off = off, size = 5 }
    end
    if b == 0xcb then
        need(limit, off, 9)
        local x = tvb:range(off + 1, 8):float()
        return { t = "float", s = string.format("%.17g", x), off = off, size = 9 }
    end
    if b >= 0xcc and b <= 0xcf then
        local n = ({ [0xcc] = 1, [0xcd] = 2, [0xce] = 4, [0xcf] = 8 })[b]
        need(limit, off, 1 + n)
        if n == 8 then return int(tostring(tvb:range(off + 1, 8):uint64()), off, 9, nil) end
        local v = tvb:range(off + 1, n):uint()
        return int(tostring(v), off, 1 + n, v)
    end
    if b >= 0xd0 and b <= 0xd3 then
        local n = ({ [0xd0] = 1, [0xd1] = 2, [0xd2] = 4, [0xd3] = 8 })[b]
        need(limit, off, 1 + n)
        if n == 8 then return int(tostring(tvb:range(off + 1, 8):int64()), off, 9, nil) end
        local v = tvb:range(off + 1, n):int()
        return int(tostring(v), off, 1 + n, v)
    end
    if b >= 0xd4 and b <= 0xd8 then
        local n = ({ [0xd4] = 1, [0xd5] = 2, [0xd6] = 4, [0xd7] = 8, [0xd8] = 16 })[b]
        return decode_ext(tvb, off, limit, 2, n)
    end
    if b == 0xd9 then return decode_str(tvb, off, limit, 2, len(1)) end
    if b == 0xda then return decode_str(tvb, off, limit, 3, len(2)) end
    if b == 0xdb then return decode_str(tvb, off, limit, 5, len(4)) end
    if b == 0xdc then return decode_array(tvb, off, limit, 3, len(2), depth) end
    if b == 0xdd then return decode_array(tvb, off, limit, 5, len(4), depth) end
    if b == 0xde then return decode_map(tvb, off, limit, 3, len(2), depth) end
    if b == 0xdf then return decode_map(tvb, off, limit, 5, len(4), depth) end
    bad(string.format("unknown byte 0x%02x", b))
end

-- Decode one value at off; returns value, or nil and "short", or nil and a reason.
local function try_decode(tvb, off, limit)
    local ok, res = pcall(decode, tvb, off, limit, 0)
    if ok then return res end
    if res == SHORT then return nil, "short" end
    if type(res) == "table" and res.bad then return nil, res.bad end
    return nil, tostring(res)
end

---------------------------------------------------------------------------------------------
-- Rendering and classification (the same rules as tools/scwire_tools/classify.py).

local function is_uuid(s)
    local h4 = "%x%x%x%x"
    return #s == 36 and s:match("^" .. h4 .. h4 .. "%-" .. h4 .. "%-" .. h4 .. "%-" .. h4 ..
        "%-" .. h4 .. h4 .. h4 .. "$") ~= nil
end

local function quote(s)
    s = s:gsub("[%c\"\\]", function(c)
        if c == "\"" then return "\\\"" end
        if c == "\\" then return "\\\\" end
        if c == "\n" then return "\\n" end
        return string.format("\\x%02x", c:byte())
    end)
    return "\"" .. s .. "\""
end

-- render(v, budget): compact text, stops growing past budget characters.
local function render(v, budget)
    budget = budget or 200
    local t = v.t
    if t == "nil" then return "nil" end
    if t == "bool" then return v.v and "true" or "false" end
    if t == "int" or t == "float" then return v.s end
    if t == "str" then
        local s = v.v
        if is_uuid(s) then return quote(s:sub(1, 8) .. "…") end
        if #s > budget then s = s:sub(1, budget) .. "…" end
        return quote(s)
    end
    if t == "bin" then
        return string.format("<bin %d: %s%s>", v.n, v.hex, v.n > 16 and "…" or "")
    end
    if t == "ext" then return string.format("<ext %d: %d bytes>", v.code, v.n) end
    local parts, used = {}, 0
    local n = t == "array" and #v.items or #v.keys
    for i = 1, n do
        local piece
        if t == "array" then
            piece = render(v.items[i], budget - used)
        else
            local k = v.keys[i]
            local plain = k.t == "str" and k.v:match("^[%a_][%w_]*$")
            local ks = plain and k.v or render(k, budget - used)
            piece = ks .. ": " .. render(v.vals[i], budget - used)
        end
        parts[#parts + 1] = piece
        used = used + #piece + 2
        if used > budget then
            parts[#parts + 1] = "…"
            break
        end
    end
    if t == "array" then return "[" .. table.concat(parts, ", ") .. "]" end
    return "{" .. table.concat(parts, ", ") .. "}"
end

local function cut(s, n)
    if #s <= n then return s end
    return s:sub(1, n - 1) .. "…"
end

local function map_get(m, key)
    if m.t ~= "map" then return nil end
    for i, k in ipairs(m.keys) do
        if k.t == "str" and k.v == key then return m.vals[i], k end
    end
    return nil
end

local function all_str_keys(m)
    for _, k in ipairs(m.keys) do
        if k.t ~= "str" then return false end
    end
    return true
end

local KEYED = { "cmd", "functype", "return", "started", "yield", "stop", "error" }

local function classify(v, first)
    if first then return "handshake" end
    if v.t == "nil" then return "nil" end
    if v.t == "map" then
        for _, key in ipairs(KEYED) do
            if map_get(v, key) then
                if key == "error" and not map_get(v, "cid") then return "actor-error" end
                return key
            end
        end
    end
    return "other"
end

local function cid_of(v, kind)
    if v.t ~= "map" or kind == "handshake" then return nil end
    local c = map_get(v, "cid")
    if not c then
        local cmd = map_get(v, "cmd")
        if cmd and cmd.t == "array" and #cmd.items == 5 then c = cmd.items[5] end
    end
    return c
end

-- "Type: text" from type_str and the traceback's last line, which usually
-- repeats the type behind a module path ("tractor._exceptions.X: text").
local function error_summary(ts, last)
    if not ts then return last end
    if last == ts or last:sub(1, #ts + 1) == ts .. ":" then return last end
    local p = last:find("." .. ts, 1, true)
    while p do
        local after = last:sub(p + 1 + #ts, p + 1 + #ts)
        if last:sub(1, p - 1):match("^[%w_%.]*$") and (after == "" or after == ":") then
            return last:sub(p + 1)
        end
        p = last:find("." .. ts, p + 1, true)
    end
    if last == "" then return ts end
    return ts .. ": " .. last
end

local function tb_last(tb)
    local last = ""
    for line in tb:gmatch("[^\n]+") do
        local s = line:match("^%s*(.-)%s*$")
        if s ~= "" then last = s end
    end
    return last
end

---------------------------------------------------------------------------------------------
-- Tree building.

local function add_str(tree, field, tvb, v)
    if v.t == "str" then
        return tree:add(field, tvb:range(v.soff, v.slen), v.v)
    end
    return tree:add(field, tvb:range(v.off, v.size), render(v, 80))
end

-- Adds one message; returns the text for the Info column.
local function add_message(tvb, tree, v, start, total, dir, first, hlen)
    local kind = classify(v, first)
    local cidv = cid_of(v, kind)
    local cid = ""
    if cidv then cid = cidv.t == "str" and cidv.v or render(cidv, 40) end
    local short = cid:sub(1, 8)
    local summary = ""

    local sub = tree:add(scwire, tvb:range(start, total))
    if hlen > 0 then
        sub:add_le(f.len, tvb:range(start, 4))
    end
    sub:add(f.kind, tvb:range(v.off, v.size), kind)
    if cidv then
        add_str(sub, f.cid, tvb, cidv)
    else
        sub:add(f.cid, tvb:range(v.off, 0), ""):set_generated()
    end
    sub:add(f.dir, tvb:range(v.off, 0), dir):set_generated()
    sub:add(f.msg_len, tvb:range(v.off, v.size), v.size):set_generated()

    if kind == "handshake" then
        if v.t == "array" and #v.items >= 2 and v.items[1].t == "str" and v.items[2].t == "str" then
            add_str(sub, f.hs_name, tvb, v.items[1])
            add_str(sub, f.hs_uuid, tvb, v.items[2])
            summary = v.items[1].v .. " " .. v.items[2].v:sub(1, 8)
        else
            sub:add_proto_expert_info(ex_uid)
            summary = "not a uid: " .. render(v, 60)
        end
    elseif kind == "cmd" then
        local cmd = map_get(v, "cmd")
        if cmd.t == "array" and #cmd.items == 5 then
            local ns, fn, kw, caller = cmd.items[1], cmd.items[2], cmd.items[3], cmd.items[4]
            add_str(sub, f.ns, tvb, ns)
            add_str(sub, f.func, tvb, fn)
            sub:add(f.kwargs, tvb:range(kw.off, kw.size), render(kw, 200))
            sub:add(f.caller, tvb:range(caller.off, caller.size), render(caller, 80))
            local name = (ns.t == "str" and ns.v or render(ns, 20)) .. "." ..
                         (fn.t == "str" and fn.v or render(fn, 20))
            summary = name .. "(" .. render(kw, 60):gsub("^{(.*)}$", "%1") .. ")"
        else
            summary = "malformed cmd " .. render(cmd, 60)
        end
    elseif kind == "functype" then
        local ft = map_get(v, "functype")
        add_str(sub, f.functype, tvb, ft)
        summary = ft.t == "str" and ft.v or render(ft, 40)
    elseif kind == "error" or kind == "actor-error" then
        local err = map_get(v, "error")
        local ts = err.t == "map" and map_get(err, "type_str")
        local tb = err.t == "map" and map_get(err, "tb_str")
        if ts then add_str(sub, f.err_type, tvb, ts) end
        if tb and tb.t == "str" then
            local last = tb_last(tb.v)
            sub:add(f.err_last, tvb:range(tb.soff, tb.slen), last)
            sub:add(f.err_tb, tvb:range(tb.soff, tb.slen), tb.v)
            summary = error_summary(ts and ts.t == "str" and ts.v or nil, last)
        else
            summary = render(err, 80)
        end
        sub:add_proto_expert_info(ex_error, "Remote error: " .. cut(summary, 120))
    elseif kind == "return" or kind == "started" or kind == "yield" or kind == "stop" then
        local val = map_get(v, kind)
        sub:add(f.value, tvb:range(val.off, val.size), render(val, 200))
        summary = render(val, 60)
    elseif kind == "nil" then
        summary = "terminate"
    else
        summary = render(v, 60)
        sub:add(f.value, tvb:range(v.off, v.size), render(v, 200))
    end
    if v.t == "map" and not all_str_keys(v) and kind ~= "other" then
        sub:add(f.value, tvb:range(v.off, v.size), render(v, 200))
    end
    sub:append_text(string.format(", %s %s%s%s", dir, kind, short ~= "" and " " .. short or "",
        summary ~= "" and ": " .. cut(summary, 100) or ""))
    local info = kind .. (short ~= "" and " " .. short or "")
    if kind == "cmd" then info = info .. " " .. summary:gsub("%(.*$", "") end
    return info
end

---------------------------------------------------------------------------------------------

function scwire.dissector(tvb, pinfo, tree)
    local length = tvb:len()
    if length == 0 then return 0 end
    local port = scwire.prefs.port
    local dir = pinfo.dst_port == port and "c2s" or "s2c"
    local stream = tcp_stream_f()
    local conv = stream and tostring(stream.value) or (tostring(pinfo.src) .. ":" .. pinfo.src_port
        .. ">" .. tostring(pinfo.dst) .. ":" .. pinfo.dst_port)
    local skey = conv .. "/" .. dir
    local lenprefix = scwire.prefs.codec == CODEC_LENPREFIX

    pinfo.cols.protocol = "SCWIRE"
    local infos = {}
    local off = 0
    while off < length do
        local hlen, limit = 0, length
        if lenprefix then
            if length - off < 4 then
                pinfo.desegment_offset = off
                pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT
                break
            end
            local n = tvb:range(off, 4):le_uint()
            if length - off < 4 + n then
                pinfo.desegment_offset = off
                pinfo.desegment_len = 4 + n - (length - off)
                break
            end
            hlen, limit = 4, off + 4 + n
        end
        local v, why = try_decode(tvb, off + hlen, limit)
        if lenprefix and v and off + hlen + v.size ~= limit then
            v, why = nil, string.format("%d bytes after the object in the frame body",
                limit - (off + hlen + v.size))
        end
        if lenprefix and not v and why == "short" then
            why = "frame body ends inside the object"
        end
        if not v and why == "short" then
            pinfo.desegment_offset = off
            pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT
            break
        end
        if not v then
            local sub = tree:add(scwire, tvb:range(off, length - off))
            sub:add(f.kind, tvb:range(off, length - off), "decode_error")
            sub:add(f.cid, tvb:range(off, 0), ""):set_generated()
            sub:add(f.dir, tvb:range(off, 0), dir):set_generated()
            sub:add_proto_expert_info(ex_decode, "Not valid msgpack: " .. why)
            sub:append_text(", " .. dir .. " decode error: " .. why)
            infos[#infos + 1] = "decode_error"
            break
        end
        local total = hlen + v.size
        -- The first message of a stream direction is its handshake.  Its
        -- identity (frame, offset, tvb length) is fixed on the first pass.
        local id = pinfo.number .. ":" .. off .. ":" .. length
        if not pinfo.visited and first_msg[skey] == nil then first_msg[skey] = id end
        infos[#infos + 1] = add_message(tvb, tree, v, off, total, dir, first_msg[skey] == id, hlen)
        off = off + total
    end
    if #infos > 0 then
        pinfo.cols.info:set(dir .. " " .. table.concat(infos, ", "))
    end
    return length
end

local tcp_port = DissectorTable.get("tcp.port")
local registered_port = 0

local function register_port()
    if registered_port ~= 0 then tcp_port:remove(registered_port, scwire) end
    registered_port = scwire.prefs.port
    if registered_port ~= 0 then tcp_port:add(registered_port, scwire) end
end

function scwire.prefs_changed()
    register_port()
end

register_port()
