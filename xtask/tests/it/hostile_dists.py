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
    """A zip written byte by byte: each entry is (name in the central directory,
    name in the local header, method, compressed bytes, CRC-32, uncompressed size)."""

    def __init__(self):
        self.entries = []

    def add(self, name, data, local_name=None):
        comp = zlib.compressobj(6, zlib.DEFLATED, -15)
        packed = comp.compress(data) + comp.flush()
        self.add_raw(name, packed, zlib.crc32(data), len(data), local_name)

    def add_raw(self, name, packed, crc, size, local_name=None):
        self.entries.append((name.encode(), (local_name or name).encode(), packed, crc, size))

    def write(self, path):
        with open(path, "wb") as out:
            central = []
            for name, local_name, packed, crc, size in self.entries:
                offset = out.tell()
                out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21,
                                      crc, len(packed), size, len(local_name), 0))
                out.write(local_name)
                out.write(packed)
                central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x031E, 20, 0, 8, 0, 0x21,
                                           crc, len(packed), size, len(name), 0, 0, 0, 0,
                                           0o100644 << 16, offset) + name)
            start = out.tell()
            for it in central:
                out.write(it)
            end = out.tell()
            out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central),
                                  end - start, start, 0))


def write_wheel(path, members):
    raw = RawZip()
    for name, data in members:
        raw.add(name, data)
    raw.write(path)


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
    raw = RawZip()
    for name, data in members:
        raw.add(name, data, local_name="../../zz.py" if name == "yamause/zzz.py" else None)
    raw.write(wheel)
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
    # 400 MiB of zeros: under the size of one member, far over the ratio.
    members = read_tar(sdist)
    blocks = sdist_blocks(members) + tar_header(top(members) + "/zeros.bin", 400 * MIB)
    with open(sdist, "wb") as out:
        with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=9) as gz:
            gz.write(blocks)
            zero = b"\0" * MIB
            for _ in range(400):
                gz.write(zero)
            gz.write(b"\0" * 10240)
    return sdist


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
    print(os.path.basename(CASES[case](sdist, wheel)))


if __name__ == "__main__":
    main()
