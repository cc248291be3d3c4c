"""More of each rule of the strict reading, one archive per rule, for the
inspector's own test (`hostile_archives.rs`, `the_inspector_names_the_rule_of_each_refusal`):
each is refused, the rule named. Used through `hostile_dists.py`.
"""

import gzip
import io
import os
import struct

from hostile_build import (
    MIB, RawZip, dist_info, member_blocks, padded, pax, read_tar, read_zip, sdist_blocks, tar_header, top,
    with_record, write_sdist, write_wheel,
)

def wheel_case(edit):
    """A case that rewrites the wheel's members (RECORD kept true) with `edit`,
    which returns the members and the RawZip fields of the hostile ones."""
    def case(sdist, wheel):
        members, special = edit(read_zip(wheel))
        raw = write_wheel(wheel, with_record(members), **special)
        return wheel, raw
    return case


def added(name, data=b"x = 1\n", **fields):
    return wheel_case(lambda members: (members + [(name, data)], {name: fields}))


def wheel_written(finish):
    """A case that writes the wheel, then changes its bytes with `finish`."""
    def case(sdist, wheel):
        write_wheel(wheel, with_record(read_zip(wheel)))
        with open(wheel, "rb") as f:
            data = f.read()
        with open(wheel, "wb") as f:
            f.write(finish(data))
        return wheel
    return case


def zip_comment(data):
    return data[:-2] + struct.pack("<H", 5) + b"hello"


def overlapping(sdist, wheel):
    # A second central directory entry for the first member's bytes.
    members = with_record(read_zip(wheel))
    raw = RawZip()
    for name, data in members:
        raw.add(name, data)
    first = raw.entries[0]
    raw.add_raw("yamause/again.py", first["packed"], first["crc"], first["size"], offset=0)
    raw.write(wheel)
    return wheel


def replaced(member_suffix, old, new):
    def edit(members):
        return [(n, d.replace(old, new) if n.endswith(member_suffix) else d) for n, d in members], {}
    return wheel_case(edit)


def record_edit(edit):
    def case(sdist, wheel):
        members = with_record(read_zip(wheel))
        record = dist_info(members) + "/RECORD"
        write_wheel(wheel, [(n, edit(d) if n == record else d) for n, d in members])
        return wheel
    return case


def sdist_case(extra):
    """A case that appends `extra(members)` (tar blocks) to the sdist's members."""
    def case(sdist, wheel):
        members = read_tar(sdist)
        write_sdist(sdist, sdist_blocks(members) + extra(members))
        return sdist
    return case


def sdist_bytes(finish):
    def case(sdist, wheel):
        members = read_tar(sdist)
        write_sdist(sdist, sdist_blocks(members))
        with open(sdist, "rb") as f:
            data = f.read()
        with open(sdist, "wb") as f:
            f.write(finish(data, members))
        return sdist
    return case


def gzipped(body):
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        gz.write(body)
    return out.getvalue()


def after_end(data, members):
    tail = member_blocks(top(members) + "/late.py", b"x\n")
    with gzip.open(io.BytesIO(data)) as gz:
        body = gz.read()
    return gzipped(body + tail + b"\0" * 1024)


def bad_checksum(data, members):
    with gzip.open(io.BytesIO(data)) as gz:
        body = bytearray(gz.read())
    body[148:156] = b"0000001\0"
    return gzipped(bytes(body))


def base256_size(members):
    head = bytearray(tar_header(top(members) + "/big.bin", 0))
    head[124:136] = b"\x80" + b"\0" * 10 + b"\x02"
    head[148:156] = b" " * 8
    head[148:156] = b"%06o\0 " % sum(head)
    return bytes(head) + b"\0" * 512


RULES = {
    "zip-comment": wheel_written(zip_comment),
    "zip-trailing": wheel_written(lambda data: data + b"trailing bytes"),
    "zip-prefix": wheel_written(lambda data: b"#!/bin/sh\nexit 0\n" + data),
    "zip-overlap": overlapping,
    "zip-symlink": added("yamause/link.py", b"../../etc/passwd", mode=0o120777),
    "zip-encrypted": added("yamause/secret.py", flags=0x0001),
    "zip-bzip2": added("yamause/b.py", method=12),
    "zip-cp437": added("yamause/caf\u00e9.py", raw_name="yamause/caf\u00e9.py".encode()),
    "zip-unicode-extra": added("yamause/u.py", extra=struct.pack("<HH", 0x7075, 5) + b"\x01abcd"),
    "zip-lying-size": added("yamause/lie.py", b"x" * 1000, declared=10),
    "zip-case": added("yamause/__ABOUT__.py"),
    "zip-big-candidate": lambda sdist, wheel: added("a/METADATA.bin", os.urandom(17 * MIB), method=0)(sdist, wheel),
    "zip-trailing-dot": added("yamause/x.py."),
    "zip-colon": added("yamause/x.py:stream"),
    "version-trailing-blank": replaced("/METADATA", b"\nVersion: 1.0.0\n", b"\nVersion: 1.0.0 \n"),
    "pkg-info-alone": lambda sdist, wheel: pkg_info_alone(sdist),
    "zip-file-folder": added("yamause/__init__.py/x.py"),
    "zip-dotdot-record": record_edit(lambda d: d + b"../outside.py,sha256=x,1\n"),
    "record-missing": record_edit(lambda d: b"\n".join(l for l in d.split(b"\n") if b"__init__" not in l)),
    "record-wrong-hash": record_edit(lambda d: d.replace(b"__init__.py,sha256=", b"__init__.py,sha256=AAAA")),
    "record-extra-row": record_edit(lambda d: d + b"yamause/ghost.py,sha256=abc,3\n"),
    "record-unhashed-row": record_edit(lambda d: re_unhash(d, b"yamause/__init__.py")),
    "wheel-version-2": replaced("/WHEEL", b"Wheel-Version: 1.0", b"Wheel-Version: 2.0"),
    "two-dist-info": added("other-1.0.0.dist-info/METADATA", b"Metadata-Version: 2.1\nName: other\nVersion: 1\n"),
    "folded-name": replaced("/METADATA", b"\nName: yamause\n", b"\nName: yam\n ause\n"),
    "metadata-bom": replaced("/METADATA", b"Metadata-Version", b"\xef\xbb\xbfMetadata-Version"),
    "tar-symlink": sdist_case(lambda m: tar_header(top(m) + "/link.py", 0, b"2")),
    "tar-hardlink": sdist_case(lambda m: tar_header(top(m) + "/hard.py", 0, b"1")),
    "tar-fifo": sdist_case(lambda m: tar_header(top(m) + "/fifo", 0, b"6")),
    "tar-global-pax": sdist_case(lambda m: global_pax() + member_blocks(top(m) + "/g.py", b"x\n")),
    "tar-longname": sdist_case(lambda m: gnu_longname(top(m) + "/../../escape.py") +
                               member_blocks(top(m) + "/ok.py", b"x\n")),
    "tar-pax-linkpath": sdist_case(lambda m: pax({"linkpath": "/etc/passwd"}) + member_blocks(top(m) + "/l.py", b"")),
    "tar-duplicate": sdist_case(lambda m: member_blocks(top(m) + "/PKG-INFO", b"Metadata-Version: 2.1\n")),
    "tar-outside-top": sdist_case(lambda m: member_blocks("other-1.0.0/x.py", b"x\n")),
    "tar-base256": sdist_case(base256_size),
    "gzip-two-members": sdist_bytes(lambda data, members: data + gzipped(b"\0" * 1024)),
    "tar-after-end": sdist_bytes(after_end),
    "tar-bad-checksum": sdist_bytes(bad_checksum),
    "pkg-info-two-names": lambda sdist, wheel: pkg_info_edit(sdist, b"\nName: yamause\n",
                                                             b"\nName: yamause\nName: decoy\n"),
}


def re_unhash(data, name):
    lines = data.split(b"\n")
    return b"\n".join(name + b",," if line.startswith(name + b",") else line for line in lines)


def global_pax():
    body = b"13 path=g.py\n"
    return tar_header("././@PaxHeader", len(body), b"g") + padded(body)


def gnu_longname(name):
    data = name.encode() + b"\0"
    head = bytearray(tar_header("././@LongLink", len(data), b"L"))
    head[257:265] = b"ustar  \x00"
    head[148:156] = b" " * 8
    head[148:156] = b"%06o\0 " % sum(head)
    return bytes(head) + padded(data)


def pkg_info_edit(sdist, old, new):
    members = read_tar(sdist)
    blocks = b"".join(member_blocks(m.name, d.replace(old, new) if m.name.endswith("/PKG-INFO") else d)
                      for m, d in members if m.isfile())
    write_sdist(sdist, blocks)
    return sdist


def pkg_info_alone(sdist):
    members = [(m, d) for m, d in read_tar(sdist) if m.name.endswith("/PKG-INFO")]
    write_sdist(sdist, sdist_blocks(members))
    return sdist
