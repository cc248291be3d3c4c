"""Hostile variants of a built sdist and wheel, for the tests (`hostile_dists.rs`)
and the benchmark (`cargo xtask bench inspect`) of the archive inspection.

    python hostile_dists.py CASE DIR

DIR holds one `*.tar.gz` and one `*.whl` of a real build; CASE rewrites one of them
in place the way an attacker who controls the build job could (the manifest is the
caller's business), or, for the `bench-*` cases, writes the worst inputs of each
kind next to them. Prints the name of the file it wrote. Standard library only:
the archives are written byte by byte where Python's own writers would refuse the
trick (a local header that disagrees with the central directory, PAX records that
change a member's size or name, deflate streams far larger than they look).
"""

import base64
import gzip
import hashlib
import io
import os
import struct
import sys
import tarfile
import zipfile
import zlib

MIB = 1 << 20


# Wheels.

def read_zip(path):
    with zipfile.ZipFile(path) as zf:
        return [(info.filename, zf.read(info.filename)) for info in zf.infolist()]


def record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def with_record(members, unhashed=()):
    """`members` with a RECORD that lists each of them (with its hash, but for the
    names in `unhashed`), in place of the old one."""
    record = next(name for name, _ in members if name.endswith(".dist-info/RECORD"))
    lines = []
    for name, data in members:
        if name == record:
            continue
        lines.append(f"{name},," if name in unhashed else record_line(name, data))
    lines.append(f"{record},,")
    text = ("\n".join(lines) + "\n").encode()
    return [(name, text if name == record else data) for name, data in members]


class RawZip:
    """A zip written byte by byte, so that an entry can be anything the format can
    say: another name in its local header, flags, method, file type, extra field,
    sizes that lie; and the archive a comment."""

    def __init__(self):
        self.entries, self.comment = [], b""

    def add(self, name, data, **fields):
        comp = zlib.compressobj(6, zlib.DEFLATED, -15)
        packed = comp.compress(data) + comp.flush() if fields.get("method", 8) == 8 else data
        self.add_raw(name, packed, zlib.crc32(data), len(data), **fields)

    def add_raw(self, name, packed, crc, size, local_name=None, flags=0, method=8, mode=0o100644, extra=b"",
                raw_name=None, declared=None, offset=None):
        raw = raw_name if raw_name is not None else name.encode()
        self.entries.append(dict(raw=raw, local=local_name.encode() if local_name else raw, packed=packed, crc=crc,
                                 size=size, flags=flags, method=method, mode=mode, extra=extra,
                                 declared=size if declared is None else declared, offset=offset))

    def write(self, path):
        with open(path, "wb") as out:
            central = []
            for e in self.entries:
                offset = out.tell() if e["offset"] is None else e["offset"]
                if e["offset"] is None:
                    out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, e["flags"], e["method"], 0, 0x21, e["crc"],
                                          len(e["packed"]), e["declared"], len(e["local"]), len(e["extra"])))
                    out.write(e["local"] + e["extra"] + e["packed"])
                central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x031E, 20, e["flags"], e["method"], 0,
                                           0x21, e["crc"], len(e["packed"]), e["declared"], len(e["raw"]),
                                           len(e["extra"]), 0, 0, 0, e["mode"] << 16, offset) + e["raw"] + e["extra"])
            start = out.tell()
            for it in central:
                out.write(it)
            end = out.tell()
            out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central),
                                  end - start, start, len(self.comment)) + self.comment)


def write_wheel(path, members, **special):
    """The wheel of `members`; `special` maps a member name to the RawZip fields
    that make it hostile."""
    raw = RawZip()
    for name, data in members:
        raw.add(name, data, **special.get(name, {}))
    raw.write(path)
    return raw


def dist_info(members):
    return next(name for name, _ in members if name.endswith(".dist-info/METADATA")).split("/")[0]


def zeros_deflate(mib):
    """A raw deflate stream of `mib` MiB of zeros, built from one compressed MiB
    repeated (a full flush makes each block independent), with the CRC-32 and the
    RECORD digest of what it unpacks to."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = comp.compress(b"\0" * MIB) + comp.flush(zlib.Z_FULL_FLUSH)
    crc, zero, sha = 0, b"\0" * MIB, hashlib.sha256()
    for _ in range(mib):
        crc = zlib.crc32(zero, crc)
        sha.update(zero)
    digest = base64.urlsafe_b64encode(sha.digest()).rstrip(b"=").decode()
    # The final block: fixed Huffman, end of block at once.
    return block * mib + b"\x03\x00", crc, digest


# Sdists.

def read_tar(path):
    with tarfile.open(path, "r:gz") as tf:
        return [(m, tf.extractfile(m).read() if m.isfile() else b"") for m in tf.getmembers()]


def tar_header(name, size, kind=b"0", mode=0o644):
    """One ustar header block."""
    head = bytearray(512)
    head[0:100] = name.encode().ljust(100, b"\0")[:100]
    head[100:108] = b"%07o\0" % mode
    head[108:116] = b"0000000\0"
    head[116:124] = b"0000000\0"
    head[124:136] = b"%011o\0" % size
    head[136:148] = b"%011o\0" % 1700000000
    head[148:156] = b" " * 8
    head[156:157] = kind
    head[257:265] = b"ustar\x0000"
    head[148:156] = b"%06o\0 " % sum(head)
    return bytes(head)


def padded(data):
    return data + b"\0" * (-len(data) % 512)


def pax(records):
    """A PAX extended header (`x`) block with `records` ({key: value})."""
    body = b""
    for key, value in records.items():
        line = f" {key}={value}\n".encode()
        n = len(line) + 1
        while len(str(n)) + len(line) != n:
            n += 1
        body += str(n).encode() + line
    return tar_header("././@PaxHeader", len(body), b"x") + padded(body)


def member_blocks(name, data):
    return tar_header(name, len(data)) + padded(data)


def write_sdist(path, blocks):
    """`blocks` (the tar stream without its end), closed and gzipped."""
    body = blocks + b"\0" * 1024
    body += b"\0" * (-len(body) % 10240)
    with open(path, "wb") as out:
        with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
            gz.write(body)


def sdist_blocks(members):
    return b"".join(member_blocks(m.name, data) for m, data in members if m.isfile())


def top(members):
    return members[0][0].name.split("/")[0]


# The cases: each takes the sdist and wheel paths and returns the one it wrote.

def decoy_metadata(sdist, wheel):
    # twine reads the member named *METADATA* with the fewest path parts.
    members = read_zip(wheel)
    real = dict(members)[dist_info(members) + "/METADATA"]
    decoy = real.replace(b"\nName: yamause\n", b"\nName: yamause-decoy\n").replace(b"\nVersion: 1.0.0\n", b"\nVersion: 9.9.9\n")
    members.append(("METADATA", decoy))
    write_wheel(wheel, with_record(members))
    return wheel


def metadata_twice(sdist, wheel):
    members = read_zip(wheel)
    meta = dist_info(members) + "/METADATA"
    real = dict(members)[meta]
    first = real.replace(b"\nVersion: 1.0.0\n", b"\nVersion: 9.9.9\n")
    members = with_record(members)
    members.insert(0, (meta, first))
    write_wheel(wheel, members)
    return wheel


def unhashed_traversal(sdist, wheel):
    # The central directory says `yamause/zzz.py`, the local header `../../zz.py`
    # (as long), and RECORD lists it without a hash.
    members = read_zip(wheel) + [("yamause/zzz.py", b"print('outside')\n")]
    members = with_record(members, unhashed={"yamause/zzz.py"})
    write_wheel(wheel, members, **{"yamause/zzz.py": {"local_name": "../../zz.py"}})
    return wheel


def foreign_dist_info(sdist, wheel):
    members = read_zip(wheel)
    old = dist_info(members)
    new = "decoy-" + old.split("-", 1)[1]
    members = [(name.replace(old + "/", new + "/", 1), data) for name, data in members]
    write_wheel(wheel, with_record(members))
    return wheel


def two_versions(sdist, wheel):
    members = read_zip(wheel)
    meta = dist_info(members) + "/METADATA"
    members = [(n, d.replace(b"\nVersion: 1.0.0\n", b"\nVersion: 1.0.0\nVersion: 9.9.9\n") if n == meta else d)
               for n, d in members]
    write_wheel(wheel, with_record(members))
    return wheel


def declared_bomb(sdist, wheel):
    # 1.5 GiB of zeros in about 1.5 MiB, its sizes declared honestly and its
    # RECORD row right.
    members = read_zip(wheel)
    packed, crc, digest = zeros_deflate(1536)
    record = dist_info(members) + "/RECORD"
    members = [(n, d + f"yamause/zeros.bin,sha256={digest},{1536 * MIB}\n".encode() if n == record else d)
               for n, d in with_record(members)]
    raw = RawZip()
    for name, data in members:
        raw.add(name, data)
    raw.add_raw("yamause/zeros.bin", packed, crc, 1536 * MIB)
    raw.write(wheel)
    return wheel


def pax_size(sdist, wheel):
    # The ustar header says 0 bytes; the PAX record says 1024, which covers a whole
    # nested member that a reader ignoring the record sees.
    members = read_tar(sdist)
    nested = member_blocks(top(members) + "/nested.py", b"print('hidden')\n")
    blocks = sdist_blocks(members)
    blocks += pax({"size": len(nested)}) + tar_header(top(members) + "/cover.txt", 0) + nested
    write_sdist(sdist, blocks)
    return sdist


def pax_dotdot(sdist, wheel):
    members = read_tar(sdist)
    name = top(members) + "/ok.txt"
    blocks = sdist_blocks(members) + pax({"path": "../../escape.txt"}) + member_blocks(name, b"x\n")
    write_sdist(sdist, blocks)
    return sdist


def absolute_member(sdist, wheel):
    members = read_tar(sdist)
    write_sdist(sdist, sdist_blocks(members) + member_blocks("/tmp/yamause-absolute.txt", b"x\n"))
    return sdist


def ratio_bomb(sdist, wheel):
    # 200 MiB of zeros: under the size of one member, far over the ratio.
    members = read_tar(sdist)
    blocks = sdist_blocks(members) + tar_header(top(members) + "/zeros.bin", 200 * MIB)
    with open(sdist, "wb") as out:
        with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=9) as gz:
            gz.write(blocks)
            zero = b"\0" * MIB
            for _ in range(200):
                gz.write(zero)
            gz.write(b"\0" * 10240)
    return sdist


# More of each rule, for the inspector's own test (each refused, the rule named).

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
    "zip-big-candidate": lambda sdist, wheel: added("a/METADATA.bin", random_bytes(17 * MIB), method=0)(sdist, wheel),
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


# The worst inputs of each kind, for `cargo xtask bench inspect`: at the limits of
# `xtask/py/strict_archive.py` (accepted, the most work), or far past them (refused,
# as late as the limits allow).

def random_bytes(n):
    return os.urandom(n)


def bench_largest(sdist, wheel):
    # Files at the size limits: about 250 MiB of random bytes in each archive,
    # stored (nothing to gain by compression).
    blob = random_bytes(250 * MIB)
    members = read_zip(wheel) + [("yamause/blob.bin", blob)]
    write_wheel(wheel, with_record(members), **{"yamause/blob.bin": {"method": 0}})
    members = read_tar(sdist)
    with open(sdist, "wb") as out:
        with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=0) as gz:
            gz.write(sdist_blocks(members) + member_blocks(top(members) + "/blob.bin", blob) + b"\0" * 10240)
    return wheel


def bench_zip_ratio(sdist, wheel):
    # Twice 250 MiB of zeros and 5 MiB of noise in 6 MiB: just inside the ratio,
    # the total and the size of one member, so all of it is unpacked and hashed.
    members = read_zip(wheel) + [("yamause/noise.bin", random_bytes(5 * MIB))]
    packed, crc, digest = zeros_deflate(250)
    record = dist_info(members) + "/RECORD"
    rows = "".join(f"yamause/zeros{i}.bin,sha256={digest},{250 * MIB}\n" for i in (1, 2)).encode()
    members = [(n, d + rows if n == record else d) for n, d in with_record(members)]
    raw = write_wheel(wheel, members, **{"yamause/noise.bin": {"method": 0}})
    for i in (1, 2):
        raw.add_raw(f"yamause/zeros{i}.bin", packed, crc, 250 * MIB)
    raw.write(wheel)
    return wheel


def bench_gzip_bomb(sdist, wheel):
    # 5 MB of gzip that would unpack to 5 GiB of zeros behind a member that
    # declares 256 MiB: refused once the ratio (or the total) is passed, at about
    # 512 MiB. Its CRC is never reached.
    members = read_tar(sdist)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = comp.compress(sdist_blocks(members) + tar_header(top(members) + "/zeros.bin", 256 * MIB))
    head += comp.flush(zlib.Z_FULL_FLUSH)
    zeros = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = zeros.compress(b"\0" * MIB) + zeros.flush(zlib.Z_FULL_FLUSH)
    with open(sdist, "wb") as out:
        out.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + head)
        for _ in range(5120):
            out.write(block)
        out.write(b"\x03\x00" + struct.pack("<II", 0, 0))
    return sdist


def nested_name(i):
    # About 260 bytes, 22 folders deep, every one distinct below the first levels.
    digits = f"{i:05d}"
    return "yamause/" + "/".join(f"level{d}{k:04d}" for k, d in enumerate(digits * 4 + "00")) + f"/m{digits}.py"


def bench_many_zip(sdist, wheel):
    # 20,000 members (the limit) with long, deep names: the central directory and
    # RECORD at their largest.
    members = read_zip(wheel) + [(nested_name(i), b"x\n") for i in range(20_000 - 6)]
    write_wheel(wheel, with_record(members))
    return wheel


def bench_many_tar(sdist, wheel):
    # 20,000 members (the limit) with long, deep names, each behind a PAX header.
    members = read_tar(sdist)
    with tarfile.open(sdist, "w:gz", format=tarfile.PAX_FORMAT) as out:
        for m, data in members:
            out.addfile(m, io.BytesIO(data))
        for i in range(20_000 - len(members)):
            info = tarfile.TarInfo(top(members) + "/" + nested_name(i))
            info.size = 2
            out.addfile(info, io.BytesIO(b"x\n"))
    return sdist


def bench_too_many(sdist, wheel):
    members = read_zip(wheel) + [(f"yamause/m{i}.py", b"") for i in range(20_001)]
    write_wheel(wheel, with_record(members))
    return wheel


BENCH = {
    "bench-largest": bench_largest,
    "bench-zip-ratio": bench_zip_ratio,
    "bench-gzip-bomb": bench_gzip_bomb,
    "bench-many-zip": bench_many_zip,
    "bench-many-tar": bench_many_tar,
    "bench-too-many": bench_too_many,
}


CASES = {
    "decoy-metadata": decoy_metadata,
    "metadata-twice": metadata_twice,
    "unhashed-traversal": unhashed_traversal,
    "foreign-dist-info": foreign_dist_info,
    "two-versions": two_versions,
    "declared-bomb": declared_bomb,
    "pax-size": pax_size,
    "pax-dotdot": pax_dotdot,
    "absolute-member": absolute_member,
    "ratio-bomb": ratio_bomb,
}


def main():
    case, folder = sys.argv[1], sys.argv[2]
    names = os.listdir(folder)
    sdist = os.path.join(folder, next(n for n in names if n.endswith(".tar.gz")))
    wheel = os.path.join(folder, next(n for n in names if n.endswith(".whl")))
    if case == "--rules":
        print("\n".join(RULES))
        return
    written = {**CASES, **RULES, **BENCH}[case](sdist, wheel)
    written = written[0] if isinstance(written, tuple) else written
    print(os.path.basename(written))


if __name__ == "__main__":
    main()
