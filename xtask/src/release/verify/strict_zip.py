"""A strict reader of zip archives (wheels), for `inspect_dists.py`.

It accepts only what every reader reads the same way, so that what is checked is
what pip, twine, CodeArtifact and an unzip on another system see: one end record
at the very end (no comment, no zip64, no data before, between or after), a
central directory whose every entry has a local header that tiles the file from
byte 0, agrees with it on name, flags, method, CRC and sizes, and unpacks (stored
or deflate, nothing encrypted) to exactly the size it declares; no links or
special files; names that are plain relative paths, each once. Every member is
streamed: nothing larger than a chunk is held, and the limits of
`strict_archive` stop a bomb as soon as it shows.
"""

import struct
import zlib

from strict_archive import (
    MAX_MEMBERS, MAX_NAMES_BYTES, LIMITS, WHEEL_SPEC, ZIP_SPEC, Names, Refused, check_member_size,
    member_name, shown, size_text,
)

END = struct.Struct("<IHHHHIIH")
CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
LOCAL = struct.Struct("<IHHHHHIIIHH")
END_SIG, CENTRAL_SIG, LOCAL_SIG, DESCRIPTOR_SIG, ZIP64_LOCATOR_SIG = (
    0x06054B50, 0x02014B50, 0x04034B50, 0x08074B50, 0x07064B50)
# Deflate options (bits 1, 2), a data descriptor (3), UTF-8 names (11).
ALLOWED_FLAGS = 0x0002 | 0x0004 | 0x0008 | 0x0800
# Extra fields that change how some readers name or size a member: zip64 sizes,
# Info-ZIP's Unicode path (taken over the name by unzip and 7-Zip, not by every
# version of Python), AES and strong encryption.
REFUSED_EXTRAS = {0x0001: "zip64 sizes", 0x7075: "a Unicode path that some readers take over the name",
                  0x9901: "AES encryption", 0x0017: "strong encryption"}
CHUNK = 64 * 1024
OUT_CHUNK = 256 * 1024
S_IFMT, S_IFREG, S_IFDIR, S_IFLNK = 0o170000, 0o100000, 0o040000, 0o120000


class Entry:
    __slots__ = ("name", "shown_name", "is_dir", "flags", "method", "crc", "packed", "size", "offset")

    def raw(self):
        """The name's bytes, as the archive holds them (a UTF-8 or ASCII name
        decodes and encodes back to the same bytes)."""
        return self.shown_name.encode("utf-8")


def read_zip(f, file_size, budget, visitor):
    """Reads the zip in `f` strictly. `visitor.start(entries)` gets every
    (name, is_dir) once the central directory is checked; `visitor.member(name)`
    returns a sink (`update(bytes)`, `done()`) for the member's unpacked bytes, or
    None."""
    entries, cd_offset = central_directory(f, file_size)
    visitor.start([(e.name, e.is_dir) for e in entries])
    budget.declare(sum(e.size for e in entries))
    at = 0
    for e in sorted(entries, key=lambda it: it.offset):
        if e.offset != at:
            rule = ("its local header starts inside the member before it (overlapping members)" if e.offset < at
                    else "bytes that belong to no member come before its local header")
            raise Refused(e.shown_name, rule, ZIP_SPEC)
        at = read_member(f, e, budget, visitor.member(e.name))
    if at != cd_offset:
        raise Refused(None, "bytes that belong to no member lie between the last member and the central "
                            "directory", ZIP_SPEC)


def central_directory(f, file_size):
    if file_size < 22:
        raise Refused(None, "too short to be a zip archive", ZIP_SPEC)
    f.seek(file_size - 22)
    sig, disk, cd_disk, on_disk, count, cd_size, cd_offset, comment = END.unpack(f.read(22))
    if sig != END_SIG or comment:
        raise Refused(None, "the file does not end with the end-of-central-directory record: an archive "
                            "comment, or data after the archive, where another end record can hide", ZIP_SPEC)
    if disk or cd_disk or on_disk != count:
        raise Refused(None, "a multi-volume archive", ZIP_SPEC)
    if count == 0xFFFF or 0xFFFFFFFF in (cd_size, cd_offset):
        raise Refused(None, "a zip64 archive: one under the limits needs none", ZIP_SPEC)
    if file_size >= 42:
        f.seek(file_size - 42)
        if struct.unpack("<I", f.read(4))[0] == ZIP64_LOCATOR_SIG:
            raise Refused(None, "a zip64 locator before the end record: Python's zipfile would read another "
                                "directory than the one the end record names", ZIP_SPEC)
    if count > MAX_MEMBERS:
        raise Refused(None, f"{count} members, above the limit of {MAX_MEMBERS}", LIMITS)
    if cd_size > MAX_NAMES_BYTES:
        raise Refused(None, f"a central directory of {size_text(cd_size)}, above the limit of "
                            f"{size_text(MAX_NAMES_BYTES)}", LIMITS)
    if cd_offset + cd_size != file_size - 22:
        raise Refused(None, "the central directory does not end where the end record begins: readers that "
                            "search for it, or correct its offset (Python's zipfile does), read another one",
                      ZIP_SPEC)
    f.seek(cd_offset)
    cd = memoryview(f.read(cd_size))
    names, entries, pos = Names(WHEEL_SPEC), [], 0
    for _ in range(count):
        if pos + CENTRAL.size > len(cd):
            raise Refused(None, "the central directory holds fewer entries than its end record counts", ZIP_SPEC)
        fields = CENTRAL.unpack_from(cd, pos)
        (sig, _, _, flags, method, _, _, crc, packed, size, name_len, extra_len, comment_len,
         disk_start, _, external, offset) = fields
        start = pos + CENTRAL.size
        raw, extra = bytes(cd[start:start + name_len]), bytes(cd[start + name_len:start + name_len + extra_len])
        pos = start + name_len + extra_len + comment_len
        if sig != CENTRAL_SIG or pos > len(cd):
            raise Refused(None, "a broken central directory entry", ZIP_SPEC)
        entries.append(entry(raw, extra, flags, method, crc, packed, size, external, disk_start, offset))
        names.add(entries[-1].name, entries[-1].shown_name, entries[-1].is_dir)
    if pos != len(cd):
        raise Refused(None, "the central directory holds more than its end record counts", ZIP_SPEC)
    names.check()
    return entries, cd_offset


def entry(raw, extra, flags, method, crc, packed, size, external, disk_start, offset):
    text = decode_name(raw, flags)
    e = Entry()
    e.shown_name, e.is_dir = text, text.endswith("/")
    e.name = member_name(text, e.is_dir, WHEEL_SPEC)
    if flags & ~ALLOWED_FLAGS:
        raise Refused(text, f"general purpose flags {flags:#06x}: encrypted, or written in a way not every "
                            f"reader reads", ZIP_SPEC)
    if method not in (0, 8):
        raise Refused(text, f"compression method {method}: only stored (0) and deflate (8) are read "
                            f"everywhere", ZIP_SPEC)
    if disk_start:
        raise Refused(text, "a member on another volume", ZIP_SPEC)
    check_extra(extra, text)
    # The Unix file type, in the high half: read by unzip for Unix and macOS hosts
    # alike, so checked whatever host the entry names.
    kind = (external >> 16) & S_IFMT
    if kind == S_IFLNK:
        raise Refused(text, "a symbolic link: pip writes its target as the file's content, unzip makes a "
                            "link", WHEEL_SPEC)
    if kind not in (0, S_IFREG, S_IFDIR) or (kind == S_IFDIR) != e.is_dir and kind:
        raise Refused(text, f"a file type ({kind:#o}) other than a regular file or a folder", WHEEL_SPEC)
    if e.is_dir and size:
        raise Refused(text, "a folder with content", ZIP_SPEC)
    if method == 0 and packed != size:
        raise Refused(text, "a stored member whose compressed and unpacked sizes differ", ZIP_SPEC)
    check_member_size(text, size)
    e.flags, e.method, e.crc, e.packed, e.size, e.offset = flags, method, crc, packed, size, offset
    return e


def decode_name(raw, flags):
    if flags & 0x0800:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Refused(raw, "a name flagged UTF-8 that is not UTF-8", ZIP_SPEC)
    if not raw.isascii():
        raise Refused(raw, "a non-ASCII name without the UTF-8 flag: Python reads it as cp437, other readers "
                           "as UTF-8", ZIP_SPEC)
    return raw.decode("ascii")


def check_extra(extra, member):
    pos = 0
    while pos < len(extra):
        if pos + 4 > len(extra):
            raise Refused(member, "a broken extra field", ZIP_SPEC)
        kind, length = struct.unpack_from("<HH", extra, pos)
        if kind in REFUSED_EXTRAS:
            raise Refused(member, f"an extra field with {REFUSED_EXTRAS[kind]} ({kind:#06x})", ZIP_SPEC)
        pos += 4 + length
    if pos != len(extra):
        raise Refused(member, "a broken extra field", ZIP_SPEC)


def read_member(f, e, budget, sink):
    """Checks the local header of `e` against the central directory, streams its
    data into `sink`, and returns where the next member must start."""
    f.seek(e.offset)
    head = f.read(LOCAL.size)
    if len(head) < LOCAL.size:
        raise Refused(e.shown_name, "its local header lies past the end of the file", ZIP_SPEC)
    sig, _, flags, method, _, _, crc, packed, size, name_len, extra_len = LOCAL.unpack(head)
    raw, extra = f.read(name_len), f.read(extra_len)
    if sig != LOCAL_SIG:
        raise Refused(e.shown_name, "no local header where the central directory says", ZIP_SPEC)
    if raw != e.raw():
        raise Refused(e.shown_name, f"its local header names {shown(raw)}: the local header and the central "
                                    f"directory disagree, and readers that stream an archive take the local one",
                      ZIP_SPEC)
    if flags != e.flags or method != e.method:
        raise Refused(e.shown_name, "its local header and the central directory disagree on its flags or "
                                    "compression method", ZIP_SPEC)
    described = flags & 0x0008
    if (crc, packed, size) != (e.crc, e.packed, e.size) and not (described and (crc, packed, size) == (0, 0, 0)):
        raise Refused(e.shown_name, "its local header and the central directory disagree on its CRC or sizes",
                      ZIP_SPEC)
    check_extra(extra, e.shown_name)
    unpack(f, e, budget, sink)
    end = e.offset + LOCAL.size + name_len + extra_len + e.packed
    if described:
        tail = f.read(16)
        has_sig = tail[:4] == struct.pack("<I", DESCRIPTOR_SIG)
        values = struct.unpack("<III", tail[4:16] if has_sig else tail[:12]) if len(tail) >= 12 + 4 * has_sig \
            else None
        if values != (e.crc, e.packed, e.size):
            raise Refused(e.shown_name, "its data descriptor and the central directory disagree", ZIP_SPEC)
        end += 16 if has_sig else 12
    return end


def unpack(f, e, budget, sink):
    """Streams the member's data: bounded by its declared size (a member may not
    unpack to a byte more), its CRC and exact sizes checked at the end."""
    total, crc = 0, 0
    for out in unpacked(f, e):
        total += len(out)
        if total > e.size:
            raise Refused(e.shown_name, f"it unpacks to more than the {e.size} bytes it declares", ZIP_SPEC)
        budget.add(len(out))
        crc = zlib.crc32(out, crc)
        if sink is not None:
            sink.update(out)
    if total != e.size or crc != e.crc:
        raise Refused(e.shown_name, f"it unpacks to {total} bytes with CRC {crc:08x}, but declares {e.size} "
                                    f"bytes with CRC {e.crc:08x}", ZIP_SPEC)
    if sink is not None:
        sink.done()


def unpacked(f, e):
    """The member's unpacked bytes, in pieces of at most OUT_CHUNK; its deflate
    stream must end exactly at its compressed size."""
    left = e.packed
    inflate = zlib.decompressobj(-15) if e.method == 8 else None
    while left:
        chunk = f.read(min(left, CHUNK))
        if not chunk:
            raise Refused(e.shown_name, "its data runs past the end of the file", ZIP_SPEC)
        left -= len(chunk)
        if inflate is None:
            yield chunk
            continue
        while chunk:
            if inflate.eof:
                raise Refused(e.shown_name, "data after the end of its deflate stream", ZIP_SPEC)
            out = inflated(inflate, chunk, e)
            chunk = inflate.unconsumed_tail
            if out:
                yield out
    if inflate is None:
        return
    # Output zlib still holds once the input is all in.
    while not inflate.eof:
        out = inflated(inflate, b"", e)
        if not out:
            break
        yield out
    if not inflate.eof or inflate.unused_data:
        raise Refused(e.shown_name, "its deflate stream does not end exactly where its compressed size says",
                      ZIP_SPEC)


def inflated(inflate, data, e):
    try:
        return inflate.decompress(data, OUT_CHUNK)
    except zlib.error as err:
        raise Refused(e.shown_name, f"a broken deflate stream ({err})", ZIP_SPEC)
