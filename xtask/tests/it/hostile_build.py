"""The writers of hostile archives (`hostile_dists.py`): a wheel or an sdist read
back from a real build, and written again byte by byte, so that an entry can be
anything its format can say, also what Python's own writers refuse.
"""

import base64
import gzip
import hashlib
import struct
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
