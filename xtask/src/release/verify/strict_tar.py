"""A strict reader of gzipped tar archives (sdists), for `inspect_dists.py`.

It accepts only what every reader reads the same way, so that what is checked is
what pip, twine, CodeArtifact and a tar on another system see: one gzip member and
nothing after it; ustar or GNU headers with valid checksums and plain octal
numbers; regular files and folders only (no links, devices, FIFOs, sparse files or
global headers); at most one extension per member, a PAX header (path and times
only: never a size or a link) or a GNU long name, that only lengthens the name the
header itself carries; names that are plain relative paths, each once; and only
zeros after the end-of-archive block. The stream is read once, in chunks: nothing
larger than a chunk is held but the members the caller keeps, and the limits of
`strict_archive` stop a bomb as soon as it shows.
"""

import zlib

from strict_archive import (
    MAX_EXTENSION_BYTES, GZIP_SPEC, SDIST_SPEC, TAR_SPEC, LIMITS, Names, Refused, check_member_size, member_name,
    shown,
)

BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)
CHUNK = 64 * 1024
OUT_CHUNK = 256 * 1024
POSIX_MAGIC, GNU_MAGIC = b"ustar\x0000", b"ustar  \x00"
# PAX records that only set times and owners; a record that sets the size, a link
# or anything else changes how some reader sees the member.
PAX_KEYS = {"path", "mtime", "atime", "ctime", "uid", "gid", "uname", "gname"}
TYPES = {
    b"1": "a hard link", b"2": "a symbolic link", b"3": "a character device", b"4": "a block device",
    b"6": "a FIFO", b"7": "a contiguous file", b"g": "a global PAX header, which changes every member after it",
    b"K": "a GNU long link name", b"S": "a GNU sparse file", b"\x00": "an old-style file entry",
}


class Gunzip:
    """The bytes of a one-member gzip stream, read on demand and counted against the
    budget; a corrupt stream, a second member or trailing bytes are refused."""

    def __init__(self, f, budget):
        self.f, self.budget = f, budget
        self.inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self.buf, self.pos, self.ended = b"", 0, False

    def fill(self):
        while not self.ended:
            # Without input left, zlib may still hold output: it comes with b"".
            data = self.inflate.unconsumed_tail or self.f.read(CHUNK)
            try:
                out = self.inflate.decompress(data, OUT_CHUNK)
            except zlib.error as err:
                raise Refused(None, f"a broken gzip stream ({err})", GZIP_SPEC)
            if self.inflate.eof:
                if self.inflate.unused_data or self.f.read(1):
                    raise Refused(None, "bytes after the gzip stream: Python's gzip reads them as another "
                                        "member, other readers stop", GZIP_SPEC)
                self.ended = True
            if out:
                self.budget.add(len(out))
                self.buf, self.pos = out, 0
                return True
            if not data and not self.ended:
                raise Refused(None, "the gzip stream is cut short", GZIP_SPEC)
        return False

    def read(self, n):
        if self.pos + n <= len(self.buf):
            self.pos += n
            return self.buf if n == len(self.buf) else self.buf[self.pos - n:self.pos]
        parts = []
        while n > 0:
            if self.pos == len(self.buf) and not self.fill():
                break
            piece = self.buf[self.pos:self.pos + n]
            self.pos += len(piece)
            n -= len(piece)
            parts.append(piece)
        return b"".join(parts)


def read_tar(f, budget, visitor):
    """Reads the sdist in `f` strictly. `visitor.member(name)` returns a sink
    (`update(bytes)`, `done()`) for a regular member's bytes, or None;
    `visitor.folder(name)` sees each folder. The names are checked together at the
    end (`Names`)."""
    stream, names = Gunzip(f, budget), Names(SDIST_SPEC)
    extension = None
    while True:
        block = stream.read(BLOCK)
        if len(block) < BLOCK:
            raise Refused(None, "the tar stream ends without its end-of-archive block", TAR_SPEC)
        if block == ZERO_BLOCK:
            if extension is not None:
                raise Refused(None, "an extended header with no member after it", TAR_SPEC)
            only_zeros(stream)
            names.check()
            return
        head = header(block)
        kind, size = head["type"], head["size"]
        if kind in (b"x", b"L"):
            if extension is not None:
                raise Refused(head["name"], "two extended headers for one member", TAR_SPEC)
            if size > MAX_EXTENSION_BYTES:
                raise Refused(head["name"], f"an extended header of {size} bytes, above the limit of "
                                            f"{MAX_EXTENSION_BYTES}", LIMITS)
            data = exactly(stream, size, head["name"])
            skip(stream, -size % BLOCK, head["name"])
            extension = pax_records(data, head["name"]) if kind == b"x" else {"path": gnu_name(data)}
            extension["kind"] = "PAX header" if kind == b"x" else "GNU long name"
            continue
        if kind not in (b"0", b"5"):
            raise Refused(head["name"], TYPES.get(kind, f"an entry of type {shown(kind)}") +
                          ": only regular files and folders are read the same way everywhere", SDIST_SPEC)
        raw, is_dir = head["name"], kind == b"5"
        if extension is not None:
            # What a reader that ignores the extension sees must be a plain name too.
            member_name(raw, is_dir, SDIST_SPEC)
            raw = extended_name(raw, extension)
        name = member_name(raw, is_dir, SDIST_SPEC)
        if is_dir and size:
            raise Refused(raw, "a folder with content", TAR_SPEC)
        check_member_size(raw, size)
        names.add(name, raw, is_dir)
        sink = visitor.folder(name) if is_dir else visitor.member(name)
        copy(stream, size, raw, sink)
        skip(stream, -size % BLOCK, raw)
        extension = None


def header(block):
    """The fields of one header block, read strictly."""
    name = text(block[0:100])
    if checksum(block) != checksum_field(block):
        raise Refused(name, "a header whose checksum does not match", TAR_SPEC)
    magic = block[257:265]
    if magic == POSIX_MAGIC:
        prefix = text(block[345:500])
        name = f"{prefix}/{name}" if prefix else name
    elif magic == GNU_MAGIC:
        if any(block[345:500]):
            raise Refused(name, "GNU header fields that tarfile reads as a name prefix", TAR_SPEC)
    else:
        raise Refused(name, "neither a ustar nor a GNU tar header", TAR_SPEC)
    for label, start, end in (("mode", 100, 108), ("uid", 108, 116), ("gid", 116, 124), ("mtime", 136, 148)):
        octal(block[start:end], name, label)
    return {"name": name, "type": block[156:157], "size": octal(block[124:136], name, "size")}


def text(field):
    raw = field.split(b"\x00", 1)[0]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(raw, "a name that is not UTF-8", TAR_SPEC)


def octal(field, member, label):
    digits = field.rstrip(b"\x00 ")
    if not digits or digits.translate(None, b"01234567"):
        raise Refused(member, f"its {label} field (hex {field.hex()}) is not plain octal: readers differ on "
                              f"base-256 and stray characters", TAR_SPEC)
    return int(digits, 8)


def checksum_field(block):
    return octal(block[148:156], block[0:100].split(b"\x00", 1)[0], "checksum")


def checksum(block):
    return sum(block) - sum(block[148:156]) + 8 * 0x20


def pax_records(data, member):
    """The records of a PAX extended header: `LENGTH KEY=VALUE\\n`, each exactly as
    long as it says, each key once."""
    records, pos = {}, 0
    while pos < len(data):
        space = data.find(b" ", pos, pos + 21)
        length = data[pos:space] if space > pos else b""
        if not length.isdigit() or length.startswith(b"0"):
            raise Refused(member, "a broken PAX record", TAR_SPEC)
        end = pos + int(length)
        record = data[space + 1:end]
        if end > len(data) or not record.endswith(b"\n") or b"=" not in record[1:]:
            raise Refused(member, "a broken PAX record", TAR_SPEC)
        key, _, value = record[:-1].partition(b"=")
        try:
            key, value = key.decode("utf-8"), value.decode("utf-8")
        except UnicodeDecodeError:
            raise Refused(member, "a PAX record that is not UTF-8", TAR_SPEC)
        if key in records:
            raise Refused(member, f"the PAX record {shown(key)} twice", TAR_SPEC)
        records[key] = value
        pos = end
    return records


def gnu_name(data):
    return text(data)


def extended_name(raw, extension):
    """The name an extension gives the member after it. A PAX header may only set
    the path and times, and the name it or a GNU long name gives may only lengthen
    the one the header carries (cut at 100 bytes, non-ASCII characters as `?`, as
    Python's tarfile writes it), so that a reader that ignores the extension sees
    the same member."""
    what = extension["kind"]
    for key in extension:
        if key == "kind" or key in PAX_KEYS:
            continue
        rule = ("a PAX size record: tarfile reads the member's data by it, readers that ignore it by the "
                "header's own size, and the two see different members" if key == "size" else
                f"a PAX record {shown(key)}, which changes how some readers see the member")
        raise Refused(raw, rule, TAR_SPEC)
    name = extension.get("path", raw)
    shadow = name.encode("ascii", "replace").decode("ascii")
    if not shadow.startswith(raw) or not raw:
        raise Refused(name, f"its {what} names it {shown(name)}, its header {shown(raw)}: a reader that "
                            f"ignores the extension sees another member", TAR_SPEC)
    return name


def exactly(stream, n, member):
    data = stream.read(n)
    if len(data) < n:
        raise Refused(member, "the tar stream ends inside the member", TAR_SPEC)
    return data


def skip(stream, n, member):
    copy(stream, n, member, None)


def copy(stream, n, member, sink):
    while n > 0:
        data = stream.read(min(n, OUT_CHUNK))
        if not data:
            raise Refused(member, "the tar stream ends inside the member", TAR_SPEC)
        n -= len(data)
        if sink is not None:
            sink.update(data)
    if sink is not None:
        sink.done()


def only_zeros(stream):
    while True:
        data = stream.read(OUT_CHUNK)
        if not data:
            return
        if data.count(0) != len(data):
            raise Refused(None, "data after the end-of-archive block: tarfile stops at the first zero block, "
                                "other readers read on", TAR_SPEC)
