#!/usr/bin/env python3
"""Generates protocol/<api>.h/.cpp from Kafka's JSON message specs in protocol/specs/.

Each message becomes a plain struct with one straight-line encode() and decode() covering every
version in `validVersions`, guarded by `if (version >= N)` checks (the franz-go kmsg model).
The output is checked in; tests/generated_code_test regenerates it and fails on any difference,
so a hand edit or a spec change without regeneration cannot slip through.

Usage: tools/codegen/gen_protocol.py [--out DIR]   (default: protocol/ next to this script's parent)
"""
import argparse
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC_DIR = os.path.join(ROOT, "protocol", "specs")

# file stem -> (spec names, description)
APIS = {
    "api_versions": ["ApiVersionsRequest", "ApiVersionsResponse"],
    "metadata": ["MetadataRequest", "MetadataResponse"],
    "produce": ["ProduceRequest", "ProduceResponse"],
    "fetch": ["FetchRequest", "FetchResponse"],
    "list_offsets": ["ListOffsetsRequest", "ListOffsetsResponse"],
    "sasl_handshake": ["SaslHandshakeRequest", "SaslHandshakeResponse"],
    "sasl_authenticate": ["SaslAuthenticateRequest", "SaslAuthenticateResponse"],
    "find_coordinator": ["FindCoordinatorRequest", "FindCoordinatorResponse"],
    "join_group": ["JoinGroupRequest", "JoinGroupResponse"],
    "sync_group": ["SyncGroupRequest", "SyncGroupResponse"],
    "heartbeat": ["HeartbeatRequest", "HeartbeatResponse"],
    "leave_group": ["LeaveGroupRequest", "LeaveGroupResponse"],
    "offset_commit": ["OffsetCommitRequest", "OffsetCommitResponse"],
    "offset_fetch": ["OffsetFetchRequest", "OffsetFetchResponse"],
    "init_producer_id": ["InitProducerIdRequest", "InitProducerIdResponse"],
    # The consumer protocol's bytes inside JoinGroup/SyncGroup (protocol/consumer_protocol.h).
    "consumer_protocol_messages": ["ConsumerProtocolSubscription", "ConsumerProtocolAssignment"],
    "header": ["RequestHeader", "ResponseHeader"],
}

CPP_KEYWORDS = {"default", "class", "int", "long", "short", "char", "bool", "float", "double",
                "namespace", "template", "operator", "register", "delete", "new", "this"}

SCALARS = {
    "int8": ("int8_t", "i8"), "int16": ("int16_t", "i16"), "int32": ("int32_t", "i32"),
    "int64": ("int64_t", "i64"), "uint16": ("uint16_t", "u16"), "uint32": ("uint32_t", "u32"),
    "float64": ("double", "f64"), "bool": ("bool", "boolean"), "uuid": ("Uuid", "uuid"),
}


# Fewest bytes each fixed-size type takes on the wire.
SCALAR_SIZES = {"int8": 1, "int16": 2, "int32": 4, "int64": 8, "uint16": 2, "uint32": 4,
                "float64": 8, "bool": 1, "uuid": 16}


def load_spec(name):
    with open(os.path.join(SPEC_DIR, name + ".json")) as f:
        text = re.sub(r"^\s*//.*$", "", f.read(), flags=re.M)
    return json.loads(text)


class Versions:
    """A Kafka version range: "0+", "3-7", "none"."""

    def __init__(self, text):
        self.text = text or "none"
        if self.text == "none":
            self.lo, self.hi = None, None
        elif self.text.endswith("+"):
            self.lo, self.hi = int(self.text[:-1]), None
        elif "-" in self.text:
            lo, hi = self.text.split("-")
            self.lo, self.hi = int(lo), int(hi)
        else:
            self.lo = self.hi = int(self.text)

    def contains(self, v):
        return self.lo is not None and v >= self.lo and (self.hi is None or v <= self.hi)

    def condition(self, valid):
        """C++ condition on `version` for this range, simplified against the message's valid range."""
        if self.lo is None:
            return "false"
        parts = []
        if self.lo > valid.lo:
            parts.append(f"version >= {self.lo}")
        if self.hi is not None and self.hi < valid.hi:
            parts.append(f"version <= {self.hi}")
        return " && ".join(parts) if parts else "true"


def snake(name):
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()
    return s + "_" if s in CPP_KEYWORDS else s


class Field:
    def __init__(self, spec, message):
        self.name = spec["name"]
        self.member = snake(self.name)
        self.type = spec["type"]
        self.versions = Versions(spec.get("versions"))
        self.nullable = Versions(spec.get("nullableVersions"))
        self.tagged = Versions(spec.get("taggedVersions"))
        self.tag = spec.get("tag")
        self.flexible_override = spec.get("flexibleVersions")  # e.g. "none" for header ClientId
        self.default = spec.get("default")
        if isinstance(self.default, bool):  # a few specs write JSON literals, not strings
            self.default = "true" if self.default else "false"
        elif isinstance(self.default, (int, float)):
            self.default = str(self.default)
        self.message = message
        self.is_array = self.type.startswith("[]")
        self.elem = self.type[2:] if self.is_array else self.type
        self.struct = None
        if "fields" in spec:
            self.struct = Struct(self.elem, spec["fields"], message)
        elif self.elem not in SCALARS and self.elem not in ("string", "bytes", "records"):
            raise SystemExit(f"{message.name}.{self.name}: unknown type {self.type} (commonStructs?)")

    def flexible_at(self, v):
        return self.flexible_override != "none" and self.message.flexible.contains(v)

    def inline_at(self, v):
        """True when the field is written inline (not absent, not in the tagged-field section)."""
        return self.versions.contains(v) and not (self.tag is not None and self.tagged.contains(v))

    def min_value_size(self, v):
        """Fewest bytes the field's value takes on the wire in version v (an empty or null value)."""
        flex = self.flexible_at(v)
        if self.is_array:
            return 1 if flex else 4  # the element count alone
        return self.min_elem_size(v)

    def min_elem_size(self, v):
        """Fewest bytes one element (or the value, for a non-array) takes in version v."""
        if self.struct:
            return self.struct.min_size(v)
        if self.elem in SCALAR_SIZES:
            return SCALAR_SIZES[self.elem]
        flex = self.flexible_at(v)
        if self.elem == "string":
            return 1 if flex else 2  # length only
        return 1 if flex else 4      # bytes, records: length only

    @property
    def has_nullable(self):
        return self.nullable.lo is not None

    def cpp_elem_type(self):
        if self.struct:
            return self.struct.name
        if self.elem in SCALARS:
            return SCALARS[self.elem][0]
        if self.elem == "string":
            return "std::string_view"
        return "Bytes"

    def cpp_type(self):
        t = self.cpp_elem_type()
        if self.is_array:
            t = f"std::vector<{t}>"
        if self.has_nullable:
            t = f"std::optional<{t}>"
        return t

    def cpp_default(self):
        d = self.default
        if self.has_nullable and (d is None or d == "null"):
            return ""
        if self.is_array or self.struct:
            return ""
        if d is None:
            return {"string": "", "bytes": "", "records": "", "uuid": "{}"}.get(self.elem, " = 0")
        if self.elem == "bool":
            return f" = {d}"
        if self.elem == "string":
            return f' = "{d}"' if d else ""
        if d.startswith("0x"):
            return f" = {int(d, 16)}"
        return f" = {d}"

    def reset_stmt(self):
        """Statement giving the field its default, for versions in which it is absent."""
        if self.has_nullable and (self.default is None or self.default == "null"):
            return f"{self.member}.reset();"
        if self.is_array:
            # Keeps capacity when a struct is decoded into again, up to a cap (see wire.h).
            return f"resize_decoded({self.member}, 0);"
        d = self.cpp_default()
        return f"{self.member} = {d[3:] if d.startswith(' = ') else '{}'};"

    def is_default_expr(self, obj):
        """C++ expression true when the field holds its default (tagged fields are then not written)."""
        ref = f"{obj}{self.member}"
        if self.has_nullable and (self.default is None or self.default == "null"):
            return f"!{ref}.has_value()"
        if self.is_array:
            return f"{ref}.empty()"
        if self.struct:
            return f"{ref} == {self.struct.name}{{}}"
        if self.elem == "string":
            return f'{ref} == "{self.default or ""}"'
        if self.elem == "uuid":
            return f"{ref} == Uuid{{}}"
        d = self.cpp_default().replace(" = ", "") or "0"
        d = "false" if self.elem == "bool" and d == "0" else d
        return f"{ref} == {d}"


class Struct:
    def __init__(self, name, fields, message):
        self.name = name
        self.message = message
        message.register(self)
        self.fields = [Field(f, message) for f in fields]

    def min_size(self, v):
        """Fewest bytes the struct takes on the wire in version v: its inline fields at their
        smallest, plus the tagged-field count (one byte) in flexible versions. Array counts are
        checked against it, so that a count needs as many bytes behind it as its elements do."""
        size = sum(f.min_value_size(v) for f in self.fields if f.inline_at(v))
        return size + (1 if self.message.flexible.contains(v) else 0)

    def has_arrays(self):
        return any(f.is_array or (f.struct and f.struct.has_arrays()) for f in self.fields)


class Message:
    def __init__(self, spec):
        self.name = spec["name"]
        self.api_key = spec.get("apiKey")
        self.valid = Versions(spec["validVersions"])
        self.flexible = Versions(spec.get("flexibleVersions", "none"))
        self.structs = []
        self.root = Struct(self.name, spec["fields"], self)

    def register(self, struct):
        if any(s.name == struct.name for s in self.structs):
            raise SystemExit(f"{self.name}: struct name {struct.name} used twice")
        self.structs.append(struct)

    def flexible_cond(self):
        return self.flexible.condition(self.valid)


def io_call(field, flex, nullable_in_version):
    """Reader/Writer method name for a non-array, non-struct value."""
    if field.elem in SCALARS:
        return SCALARS[field.elem][1]
    base = "string" if field.elem == "string" else "bytes"
    prefix = "compact_" if flex else ""
    return prefix + ("nullable_" if nullable_in_version else "") + base


class Emitter:
    def __init__(self):
        self.lines = []
        self.depth = 0

    def __call__(self, line=""):
        self.lines.append(("  " * self.depth + line) if line else "")

    def block(self, head):
        self(head + " {" if head else "{")
        self.depth += 1

    def end(self, tail="}"):
        self.depth -= 1
        self(tail)


def version_branches(field, valid, attr):
    """Splits the message's valid versions into runs where `attr` (nullable/flexible) is constant."""
    runs = []
    for v in range(valid.lo, valid.hi + 1):
        key = attr(v)
        if runs and runs[-1][2] == key:
            runs[-1][1] = v
        else:
            runs.append([v, v, key])
    return runs


def run_condition(lo, hi, valid):
    return Versions(f"{lo}-{hi}").condition(valid)


def emit_value_io(e, msg, field, ref, writing):
    """Encodes or decodes one value (not its presence) in every version where the field exists."""
    def flex_at(v):
        if field.flexible_override == "none":
            return False
        return msg.flexible.contains(v)

    # Fixed-size scalars are encoded the same in flexible versions; only lengths/counts change.
    flex_matters = field.is_array or field.struct is not None or field.elem not in SCALARS

    def key(v):
        return (flex_at(v) and flex_matters, field.nullable.contains(v))

    by_key = {}
    for lo, hi, k in version_branches(field, msg.valid, key):
        if any(field.versions.contains(v) for v in range(lo, hi + 1)):
            by_key.setdefault(k, []).append((lo, hi))
    if len(by_key) == 1:
        (k,) = by_key.keys()
        emit_single(e, msg, field, ref, writing, *k)
        return
    # The value's encoding changes with the version (e.g. becomes compact at the first flexible
    # version): one branch per encoding.
    for i, (k, ranges) in enumerate(by_key.items()):
        cond = " || ".join(run_condition(lo, hi, msg.valid) for lo, hi in ranges)
        if i == 0:
            e.block(f"if ({cond})")
        elif i == len(by_key) - 1:
            e.depth -= 1
            e("} else {")
            e.depth += 1
        else:
            e.depth -= 1
            e(f"}} else if ({cond}) {{")
            e.depth += 1
        emit_single(e, msg, field, ref, writing, *k)
    e.end()


def emit_single(e, msg, field, ref, writing, flex, nullable_now):
    if field.is_array:
        emit_array(e, msg, field, ref, writing, flex, nullable_now)
    elif field.struct:
        e(f"{ref}.{'encode(w' if writing else 'decode(r'}, version);")
    else:
        call = io_call(field, flex, nullable_now)
        if writing:
            if field.has_nullable and not nullable_now:
                default = "std::string_view{}" if field.elem == "string" else "Bytes{}"
                e(f"w.{call}({ref}.value_or({default}));")
            else:
                e(f"w.{call}({ref});")
        else:
            e(f"{ref} = r.{call}();")


def emit_array(e, msg, field, ref, writing, flex, nullable_now):
    count = "compact_array_length" if flex else "array_length"
    elem_struct = field.struct is not None
    if writing:
        if field.has_nullable:
            e.block(f"if (!{ref})")
            e(f"w.{count}({'-1' if nullable_now else '0'});")
            e.depth -= 1
            e("} else {")
            e.depth += 1
            vec = f"(*{ref})"
        else:
            vec = ref
        e(f"w.{count}(static_cast<int32_t>({vec}.size()));")
        e.block(f"for (const auto& item : {vec})")
        if elem_struct:
            e("item.encode(w, version);")
        else:
            e(f"w.{io_call(field, flex, False)}(item);")
        e.end()
        if field.has_nullable:
            e.end()
        return
    # The count is checked against the bytes its elements need at least, so a lying count fails
    # here, before anything is allocated for it.
    if elem_struct:
        min_elem = f"{field.struct.name}::min_encoded_size(version)"
    else:
        sizes = {field.min_elem_size(v) for v in range(msg.valid.lo, msg.valid.hi + 1)
                 if field.flexible_at(v) == flex}
        assert len(sizes) == 1, (field.name, sizes)
        min_elem = str(sizes.pop())
    e.block("")  # a scope for n, so sibling arrays can reuse the name
    e(f"int32_t n = r.{count}({min_elem});")
    if field.has_nullable:
        e.block("if (n < 0)")
        e(f"{ref}.reset();")
        e.depth -= 1
        e("} else {")
        e.depth += 1
        e(f"auto& vec = {ref} ? *{ref} : {ref}.emplace();")
    else:
        e(f"auto& vec = {ref};")
    e("resize_decoded(vec, n);")
    e.block("for (auto& item : vec)")
    if elem_struct:
        e("item.decode(r, version);")
    else:
        e(f"item = r.{io_call(field, flex, False)}();")
    e.end()
    if field.has_nullable:
        e.end()
    e.end()


def emit_struct_methods(e, msg, struct, scope):
    valid = msg.valid
    flex_cond = msg.flexible_cond()
    inline = [f for f in struct.fields]
    tagged = sorted([f for f in struct.fields if f.tag is not None], key=lambda f: f.tag)

    def presence(f):
        """Condition under which f is written inline."""
        exists = f.versions.condition(valid)
        if f.tag is None:
            return exists
        not_tagged = f"!({f.tagged.condition(valid)})"
        return not_tagged if exists == "true" else f"({exists}) && {not_tagged}"

    # encode
    e.block(f"void {scope}encode(Writer& w, int16_t version) const")
    e("(void)version;")
    for f in inline:
        cond = presence(f)
        if cond == "false" or (f.tag is not None and f.tagged.text == f.versions.text):
            continue
        if cond != "true":
            e.block(f"if ({cond})")
        emit_value_io(e, msg, f, f.member, True)
        if cond != "true":
            e.end()
    if flex_cond != "false":
        e.block(f"if ({flex_cond})" if flex_cond != "true" else "")
        if tagged:
            e("int32_t tagged_count = 0;")
            for f in tagged:
                e(f"if (({f.tagged.condition(valid)}) && !({f.is_default_expr('')})) ++tagged_count;")
            e("w.uvarint(static_cast<uint32_t>(tagged_count));")
            e("std::vector<uint8_t> scratch;")
            for f in tagged:
                e.block(f"if (({f.tagged.condition(valid)}) && !({f.is_default_expr('')}))")
                e("scratch.clear();")
                e("Writer tw(scratch);")
                e(f"w.uvarint({f.tag});")
                sub = Emitter()
                sub.depth = e.depth
                emit_value_io(sub, msg, f, f.member, True)
                for line in sub.lines:
                    e.lines.append(re.sub(r"\bw\.", "tw.", line).replace("(w, version)", "(tw, version)"))
                e("w.uvarint(static_cast<uint32_t>(scratch.size()));")
                e("w.raw(scratch.data(), scratch.size());")
                e.end()
        else:
            e("w.uvarint(0);  // no tagged fields")
        e.end()
    e.end()
    e()

    # decode
    e.block(f"void {scope}decode(Reader& r, int16_t version)")
    e("(void)version;")
    for f in inline:
        cond = presence(f)
        skip_inline = cond == "false" or (f.tag is not None and f.tagged.text == f.versions.text)
        if skip_inline:
            e(f.reset_stmt())
            continue
        if cond != "true":
            e.block(f"if ({cond})")
        emit_value_io(e, msg, f, f.member, False)
        if cond != "true":
            e.depth -= 1
            e("} else {")
            e.depth += 1
            e(f.reset_stmt())
            e.end()
    if flex_cond != "false":
        e.block(f"if ({flex_cond})" if flex_cond != "true" else "")
        if tagged:
            e("uint32_t tagged_count = r.uvarint();")
            e.block("for (uint32_t i = 0; i < tagged_count && r.ok(); ++i)")
            e("uint32_t tag = r.uvarint();")
            e("Reader tr = r.sub(r.uvarint());")
            for f in tagged:
                e.block(f"if (tag == {f.tag} && ({f.tagged.condition(valid)}))")
                sub = Emitter()
                sub.depth = e.depth
                emit_value_io(sub, msg, f, f.member, False)
                for line in sub.lines:
                    e.lines.append(re.sub(r"\br\.", "tr.", line).replace("(r, version)", "(tr, version)"))
                e("if (!tr.ok()) r.fail(tr.error());")
                e.end()
            e("// Unknown tags need nothing here: sub() already moved r past their bytes.")
            e.end()
        else:
            e("r.skip_tagged_fields();")
        e.end()
    e.end()
    e()


def emit_struct_decl(e, struct, is_root, msg):
    for f in struct.fields:
        if f.struct:
            emit_struct_decl(e, f.struct, False, msg)
    e.block(f"struct {struct.name}")
    for f in struct.fields:
        e(f"{f.cpp_type()} {f.member}{f.cpp_default()};")
    e()
    emit_common_decls(e, struct, msg)
    e.end("};")
    e()


def emit_common_decls(e, struct, msg):
    e("void encode(Writer& w, int16_t version) const;")
    e("void decode(Reader& r, int16_t version);")
    e(f"bool operator==(const {struct.name}& other) const;")
    e("// Frees arrays holding more than kMaxRetainedArrayBytes (with their contents): for a decoded")
    e("// message kept for reuse, once a one-off huge one has been handled.")
    e("void release_if_large();")
    e("// Fewest bytes this takes on the wire (see the array counts in decode()).")
    sizes = [(v, struct.min_size(v)) for v in range(msg.valid.lo, msg.valid.hi + 1)]
    runs = []
    for v, size in sizes:
        if runs and runs[-1][2] == size:
            runs[-1][1] = v
        else:
            runs.append([v, v, size])
    if len(runs) == 1:
        e(f"static constexpr size_t min_encoded_size(int16_t /*version*/) {{ return {runs[0][2]}; }}")
        return
    e.block("static constexpr size_t min_encoded_size(int16_t version)")
    for lo, hi, size in runs[:-1]:
        e(f"if (version <= {hi}) return {size};")
    e(f"return {runs[-1][2]};")
    e.end()


def generate_message_header(e, msg):
    e.block(f"struct {msg.name}")
    if msg.api_key is not None:
        e(f"static constexpr int16_t kApiKey = {msg.api_key};")
    e(f"static constexpr int16_t kMinVersion = {msg.valid.lo};")
    e(f"static constexpr int16_t kMaxVersion = {msg.valid.hi};")
    flex_from = -1 if msg.flexible.lo is None else msg.flexible.lo
    e(f"static constexpr int16_t kFirstFlexibleVersion = {flex_from};  // -1: never flexible")
    e("static constexpr bool is_flexible(int16_t version) {")
    e("  return kFirstFlexibleVersion >= 0 && version >= kFirstFlexibleVersion;")
    e("}")
    e()
    for s in msg.root.fields:
        if s.struct:
            emit_struct_decl(e, s.struct, False, msg)
    for f in msg.root.fields:
        e(f"{f.cpp_type()} {f.member}{f.cpp_default()};")
    e()
    emit_common_decls(e, msg.root, msg)
    e.end("};")
    e()


def emit_equality(e, struct, scope):
    e.block(f"bool {scope}operator==(const {scope.rstrip(':')}& other) const")
    if not struct.fields:
        e("(void)other;")
        e("return true;")
    else:
        terms = [f"field_equal({f.member}, other.{f.member})" for f in struct.fields]
        e("return " + " &&\n         ".join(terms) + ";")
    e.end()
    e()


def emit_release(e, struct, scope):
    e.block(f"void {scope}release_if_large()")
    for f in struct.fields:
        elem_has_arrays = f.struct is not None and f.struct.has_arrays()
        if f.is_array:
            vec = f"*{f.member}" if f.has_nullable else f.member
            if f.has_nullable:
                e.block(f"if ({f.member})")
            e(f"release_large_array({vec});")
            if elem_has_arrays:
                e(f"for (auto& item : {vec}) item.release_if_large();")
            if f.has_nullable:
                e.end()
        elif elem_has_arrays and f.has_nullable:
            e(f"if ({f.member}) {f.member}->release_if_large();")
        elif elem_has_arrays:
            e(f"{f.member}.release_if_large();")
    e.end()
    e()


def all_structs_with_scope(msg):
    out = []

    def walk(struct, scope):
        for f in struct.fields:
            if f.struct:
                out.append((f.struct, f"{scope}{f.struct.name}::"))
                walk(f.struct, scope)
    walk(msg.root, f"{msg.name}::")
    out.append((msg.root, f"{msg.name}::"))
    return out


def generate(out_dir):
    written = []
    for stem, names in APIS.items():
        msgs = [Message(load_spec(n)) for n in names]
        banner = ("// Generated by tools/codegen/gen_protocol.py from protocol/specs/"
                  + ", ".join(n + ".json" for n in names) + ". Do not edit.\n")
        h = Emitter()
        h.lines.append(banner.rstrip())
        h("#pragma once")
        h()
        h('#include "protocol/wire.h"')
        h()
        h("namespace ws::protocol {")
        h()
        for m in msgs:
            generate_message_header(h, m)
        h("}  // namespace ws::protocol")
        c = Emitter()
        c.lines.append(banner.rstrip())
        c(f'#include "protocol/{stem}.h"')
        c()
        c("namespace ws::protocol {")
        c()
        for m in msgs:
            for struct, scope in all_structs_with_scope(m):
                emit_struct_methods(c, m, struct, scope)
                emit_equality(c, struct, scope)
                emit_release(c, struct, scope)
        c("}  // namespace ws::protocol")
        for ext, em in ((".h", h), (".cpp", c)):
            path = os.path.join(out_dir, stem + ext)
            with open(path, "w") as f:
                f.write("\n".join(em.lines) + "\n")
            written.append(path)
    return written


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "protocol"))
    args = ap.parse_args()
    for p in generate(args.out):
        print(p)


if __name__ == "__main__":
    sys.exit(main())
