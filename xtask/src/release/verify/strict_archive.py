"""What the strict readers of `inspect_dists.py` share: a refusal that names the
member, the rule and the specification; the limits on what is unpacked; the rules
for member names; core-metadata headers read one way only; and opening a file of
the artifact folder without following a link or blocking on a FIFO.

Standard library only, Python 3.9 or newer: this runs in the pinned tool
environment but needs none of its packages.
"""

import json
import os
import re
import stat
import unicodedata
from bisect import bisect_left

MIB = 1 << 20

# The limits, sized for real packages with room to spare, and small enough that the
# whole check of the worst input (this inspection, twine's own reading in `twine
# check`, the hashing of the files) stays under 256 MB of memory and 10 s on two
# shared cores: `cargo xtask bench inspect` measures it. docs/security.md lists them. The
# files themselves are at most 256 MiB each and 512 MiB together (`dists.rs`).
#
# One member, declared or unpacked: 256 MiB. PyPI's default upload limit is 100 MB
# for a whole file; a single member larger than that is a data file no package
# index takes by default either.
MAX_MEMBER_BYTES = 256 * MIB
# Everything unpacked in one run, all archives together: 512 MiB. An sdist and a
# wheel of a package near PyPI's default limit unpack to a few hundred MB.
MAX_UNPACKED_BYTES = 512 * MIB
# Unpacked bytes per byte of archive, once more than 1 MiB is unpacked: 100.
# Source code and text deflate 3 to 10 times, JSON data up to about 20; deflate
# itself reaches 1032, which is how a small archive unpacks to gigabytes.
MAX_RATIO = 100
RATIO_FLOOR = 1 * MIB
# Members of one archive: 20,000. Large packages hold a few thousand files; each
# member costs the inspection and twine's own reading a few dozen microseconds.
MAX_MEMBERS = 20_000
# One member name: 1,024 bytes (macOS's PATH_MAX; Windows installs stop at 260).
MAX_NAME_BYTES = 1024
# All member names of an archive, and a zip's central directory: 16 MiB.
MAX_NAMES_BYTES = 16 * MIB
# METADATA, PKG-INFO, WHEEL and RECORD, which are read into memory: 16 MiB each
# (RECORD lists every member with a 64-byte hash; a long description is far less).
MAX_TEXT_BYTES = 16 * MIB
# A PAX extended header or a GNU long name: 8 KiB (a path of 1,024 bytes and a
# few times fit many times over).
MAX_EXTENSION_BYTES = 8 * 1024

# The specifications the rules follow.
ZIP_SPEC = "ZIP APPNOTE 4.3, https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT"
WHEEL_SPEC = "https://packaging.python.org/en/latest/specifications/binary-distribution-format/"
SDIST_SPEC = "https://packaging.python.org/en/latest/specifications/source-distribution-format/"
METADATA_SPEC = "https://packaging.python.org/en/latest/specifications/core-metadata/"
RECORD_SPEC = "https://packaging.python.org/en/latest/specifications/recording-installed-packages/#the-record-file"
TAR_SPEC = "POSIX ustar and pax, https://pubs.opengroup.org/onlinepubs/9799919799/utilities/pax.html"
GZIP_SPEC = "RFC 1952, https://www.rfc-editor.org/rfc/rfc1952"
LIMITS = "the inspection's limits, docs/security.md"


class Refused(Exception):
    """An archive the release will not publish: `member` (or None for the archive
    as a whole) breaks `rule`, which `spec` states."""

    def __init__(self, member, rule, spec):
        super().__init__(rule)
        self.member, self.rule, self.spec = member, rule, spec

    def __str__(self):
        where = f"member {shown(self.member)}: " if self.member is not None else ""
        return f"{where}{self.rule} ({self.spec})"


def shown(text):
    """A name from the archive, quoted and escaped: no control character, line
    break or non-ASCII character of it reaches the log as is."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "backslashreplace")
    return json.dumps(text)


def size_text(n):
    if n >= MIB:
        return f"{n / MIB:.0f} MiB"
    return f"{n / 1024:.0f} KiB" if n >= 1024 else f"{n} bytes"


class Budget:
    """What the run has unpacked, for the limits: in all, and per archive."""

    def __init__(self):
        self.unpacked = 0

    def archive(self, file_size):
        return ArchiveBudget(self, file_size)


class ArchiveBudget:
    def __init__(self, run, file_size):
        self.run, self.file_size, self.unpacked = run, max(file_size, 1), 0

    def declare(self, total):
        """The sizes the archive declares, before anything is unpacked."""
        self.check(total, self.run.unpacked + total, "declares")

    def add(self, n):
        self.unpacked += n
        self.run.unpacked += n
        self.check(self.unpacked, self.run.unpacked, "unpacks to")

    def check(self, archive, run, verb):
        if run > MAX_UNPACKED_BYTES:
            raise Refused(None, f"the archives {verb} more than {size_text(MAX_UNPACKED_BYTES)} "
                                f"unpacked in all, the limit of one release", LIMITS)
        if archive > RATIO_FLOOR and archive > MAX_RATIO * self.file_size:
            raise Refused(None, f"it {verb} {size_text(archive)} from {size_text(self.file_size)}: a "
                                f"compression ratio above {MAX_RATIO}, the limit (a compression bomb)", LIMITS)


def check_member_size(member, size, verb="declares"):
    if size > MAX_MEMBER_BYTES:
        raise Refused(member, f"it {verb} {size_text(size)} unpacked, above the limit of "
                              f"{size_text(MAX_MEMBER_BYTES)} for one member", LIMITS)


CONTROL = re.compile(r"[\x00-\x1f\x7f]")
DRIVE = re.compile(r"[A-Za-z]:")
CONTROL_BUT_TAB = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def member_name(raw, is_dir, spec):
    """The name of a member as every reader sees it (a folder's without its
    trailing `/`), or a refusal: only plain relative paths are read the same way by
    zipfile, tarfile, pip, twine and the unpackers of other systems."""
    if len(raw.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise Refused(raw, f"a name longer than {MAX_NAME_BYTES} bytes", LIMITS)
    if CONTROL.search(raw):
        raise Refused(raw, "a control character in a member name", spec)
    if "\\" in raw:
        raise Refused(raw, "a backslash in a member name, a separator on Windows", spec)
    if raw.startswith("/") or DRIVE.match(raw):
        raise Refused(raw, "an absolute path: the member would unpack outside its folder", spec)
    name = raw[:-1] if is_dir and raw.endswith("/") else raw
    if raw.endswith("/") and not is_dir:
        raise Refused(raw, "a file named like a folder (a trailing /)", spec)
    for part in name.split("/"):
        if part in ("", ".", ".."):
            raise Refused(raw, "an empty, `.` or `..` part in a member path: it names another place "
                               "than it seems, or one outside the archive", spec)
        if part.endswith((".", " ")) or ":" in part:
            raise Refused(raw, "a path part that ends in a dot or a space, or holds a colon: Windows reads "
                               "it as another name (or a stream of one)", spec)
    return name


class Names:
    """The member names of one archive, for the rules that need them all: no name
    twice, not even differing only in case or Unicode normalization (one file on
    macOS and Windows), and no file where another member needs a folder."""

    def __init__(self, spec):
        self.spec, self.keys, self.total = spec, [], 0

    def add(self, name, raw, is_dir):
        self.total += len(raw.encode("utf-8", "surrogatepass"))
        if self.total > MAX_NAMES_BYTES:
            raise Refused(None, f"member names of more than {size_text(MAX_NAMES_BYTES)} in all", LIMITS)
        if len(self.keys) >= MAX_MEMBERS:
            raise Refused(None, f"more than {MAX_MEMBERS} members", LIMITS)
        self.keys.append((unicodedata.normalize("NFC", name).casefold(), raw, is_dir))

    def check(self):
        keys = sorted(self.keys)
        for (key, raw, _), (next_key, next_raw, _) in zip(keys, keys[1:]):
            if key == next_key:
                rule = ("more than once: readers take different copies (zipfile and tarfile the last, "
                        "streaming readers the first)" if raw == next_raw else
                        f"the same name as member {shown(next_raw)} but for case or Unicode "
                        f"normalization: one file on macOS and Windows")
                raise Refused(raw, rule, self.spec)
        only = [key for key, _, _ in keys]
        for key, raw, is_dir in keys:
            if is_dir:
                continue
            i = bisect_left(only, key + "/")
            if i < len(only) and only[i].startswith(key + "/"):
                raise Refused(raw, "a file where other members need a folder", self.spec)


# Core metadata (METADATA, PKG-INFO) and WHEEL, read one way only.

# Fields that may appear once (core metadata 2.4); a second copy is read as the
# first by email.parser and refused by packaging, so no reader may pick one.
SINGLE_FIELDS = {
    "metadata-version", "name", "version", "summary", "description", "description-content-type",
    "keywords", "home-page", "download-url", "author", "author-email", "maintainer",
    "maintainer-email", "license", "license-expression", "requires-python",
}
FIELD_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9-]*):[ \t]*(.*)$")


def headers(data, member, spec, single=SINGLE_FIELDS):
    """The header fields of a metadata file ({lower-case name: [values]}) and its
    body, or a refusal for anything two readers could read differently: bytes that
    are not UTF-8, a byte order mark, a line that is neither a field nor the
    continuation of one, a lone CR, a field that may appear once appearing twice,
    or a folded Name, Version or Metadata-Version."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise Refused(member, f"not UTF-8 ({err.reason} at byte {err.start})", spec)
    if text.startswith("\ufeff"):
        raise Refused(member, "a byte order mark before the first field", spec)
    text = text.replace("\r\n", "\n")
    head, _, body = text.partition("\n\n")
    head = head[:-1] if head.endswith("\n") else head
    fields, last = {}, None
    for number, line in enumerate(head.split("\n"), 1):
        if CONTROL_BUT_TAB.search(line):
            raise Refused(member, f"line {number} holds a control character (a lone CR is a line break "
                                  f"to some readers only)", spec)
        if line[:1] in (" ", "\t") and last is not None:
            if last in ("name", "version", "metadata-version"):
                raise Refused(member, f"line {number} folds the {last} field over two lines", spec)
            fields[last][-1] += "\n" + line
            continue
        match = FIELD_LINE.match(line)
        if not match:
            raise Refused(member, f"line {number} is neither a field (`Name: value`) nor the "
                                  f"continuation of one", spec)
        key, value = match.group(1).lower(), match.group(2)
        if value != value.rstrip(" \t") and key in ("name", "version", "metadata-version"):
            raise Refused(member, f"line {number}: the {match.group(1)} field ends in blanks, which some readers "
                                  f"keep", spec)
        value = value.strip()
        if key in fields and key in single:
            raise Refused(member, f"the field {match.group(1)} appears more than once", spec)
        fields.setdefault(key, []).append(value)
        last = key
    return fields, body


NAME_FORM = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)


def canonical(name):
    """The PEP 503 normalized form of a project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def core_metadata(data, member, project, version):
    """Name, Version and Metadata-Version of a METADATA or PKG-INFO, checked against
    the project and the release."""
    fields, body = headers(data, member, METADATA_SPEC)
    for key in ("metadata-version", "name", "version"):
        if key not in fields:
            raise Refused(member, f"no {key.title()} field", METADATA_SPEC)
    if "description" in fields and body.strip():
        raise Refused(member, "both a Description field and a body: readers take either", METADATA_SPEC)
    name, found = fields["name"][0], fields["version"][0]
    if not NAME_FORM.match(name) or canonical(name) != canonical(project):
        raise Refused(member, f"Name {shown(name)} is not the project {shown(project)}", METADATA_SPEC)
    if found != version:
        raise Refused(member, f"Version {shown(found)} is not the release {version}", METADATA_SPEC)
    return name, found, fields["metadata-version"][0]


def open_regular(path):
    """`path` opened for reading, if it is a regular file: a link is not followed
    (O_NOFOLLOW) and a FIFO or device never blocks or is read (O_NONBLOCK, then the
    type of what was opened). Returns the file and its size."""
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise Refused(None, "a symbolic link: only regular files are read", LIMITS)
    if not stat.S_ISREG(info.st_mode):
        raise Refused(None, "not a regular file (a FIFO, a device or a folder)", LIMITS)
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    opened = os.fstat(fd)
    if not stat.S_ISREG(opened.st_mode):
        os.close(fd)
        raise Refused(None, "not a regular file (a FIFO, a device or a folder)", LIMITS)
    return os.fdopen(fd, "rb"), opened.st_size
