"""The rules of a wheel and an sdist on top of the strict readers, for
`inspect_dists.py`: which member holds the metadata (read once, and the same member
twine reads), the `.dist-info` folder and the sdist's top folder named for this
project and version, RECORD complete and true, WHEEL readable by pip.

Each `inspect_*` returns (Name, Version, Metadata-Version) of the one metadata file
or raises `Refused`.
"""

import base64
import csv
import hashlib
import io

from strict_archive import (
    MAX_TEXT_BYTES, LIMITS, RECORD_SPEC, SDIST_SPEC, WHEEL_SPEC, Refused, canonical, core_metadata, headers,
    member_name, shown, size_text,
)
from strict_tar import read_tar
from strict_zip import read_zip

TWINE_WHEEL = "Wheel.read in twine 6.2's twine/wheel.py"
MARK = b"Metadata-Version"


class Keep:
    """Keeps a member's bytes (at most MAX_TEXT_BYTES) in `into[name]`."""

    def __init__(self, into, name):
        self.into, self.name, self.parts, self.size = into, name, [], 0

    def update(self, data):
        self.size += len(data)
        if self.size > MAX_TEXT_BYTES:
            raise Refused(self.name, f"larger than {size_text(MAX_TEXT_BYTES)}, the limit for a file that is "
                                     f"read whole", LIMITS)
        self.parts.append(data)

    def done(self):
        self.into[self.name] = b"".join(self.parts)


class Digest:
    """The RECORD form of a member's SHA-256 and its size, into `into[name]`; and
    for the members twine considers as METADATA, whether they hold its mark."""

    def __init__(self, into, marked, name, keep=None):
        self.into, self.marked, self.name, self.keep = into, marked, name, keep
        self.sha, self.size, self.tail, self.found = hashlib.sha256(), 0, b"", False

    def update(self, data):
        self.sha.update(data)
        self.size += len(data)
        if "METADATA" in self.name and not self.found:
            self.found = MARK in self.tail + data
            self.tail = data[-len(MARK):]
        if self.keep is not None:
            self.keep.update(data)

    def done(self):
        digest = base64.urlsafe_b64encode(self.sha.digest()).rstrip(b"=").decode()
        self.into[self.name] = (digest, self.size)
        if self.found:
            self.marked.add(self.name)
        if self.keep is not None:
            self.keep.done()


class WheelVisitor:
    def __init__(self, file_name, project, version):
        self.file_name, self.project, self.version = file_name, project, version
        self.digests, self.marked, self.kept, self.names = {}, set(), {}, []

    def start(self, entries):
        """The layout, from the central directory, before anything is unpacked."""
        self.names = [name for name, is_dir in entries if not is_dir]
        tops = {name.split("/")[0] for name, _ in entries}
        infos = sorted(top for top in tops if top.endswith(".dist-info"))
        if len(infos) != 1:
            raise Refused(None, f"{len(infos)} .dist-info folders ({', '.join(map(shown, infos))}): a wheel has "
                                f"exactly one", WHEEL_SPEC)
        self.info = infos[0]
        self.check_folder(self.info, ".dist-info")
        for data in sorted(top for top in tops if top.endswith(".data")):
            self.check_folder(data, ".data")
        for required in ("METADATA", "WHEEL", "RECORD"):
            if f"{self.info}/{required}" not in self.names:
                raise Refused(None, f"no {self.info}/{required}", WHEEL_SPEC)

    def check_folder(self, folder, suffix):
        stem = folder[: -len(suffix)]
        parts = stem.split("-")
        if len(parts) != 2 or canonical(parts[0]) != canonical(self.project) or parts[1] != self.version:
            raise Refused(None, f"the folder {shown(folder)} is not named for {self.project} {self.version} "
                                f"(`{{name}}-{{version}}{suffix}`): pip refuses it, other readers take it as "
                                f"another project's", WHEEL_SPEC)

    def member(self, name):
        keep = None
        if name in (f"{self.info}/METADATA", f"{self.info}/WHEEL", f"{self.info}/RECORD"):
            keep = Keep(self.kept, name)
        return Digest(self.digests, self.marked, name, keep)

    def finish(self):
        metadata = f"{self.info}/METADATA"
        self.check_twine_reads(metadata)
        self.check_wheel_file(f"{self.info}/WHEEL")
        self.check_record(f"{self.info}/RECORD")
        return core_metadata(self.kept[metadata], metadata, self.project, self.version)

    def check_twine_reads(self, metadata):
        """twine uploads the name and version of the first member whose name holds
        `METADATA` and whose bytes hold `Metadata-Version`, fewest path parts first
        (twine/wheel.py): that must be the one this inspection reads. The members
        it reads whole before that one must be small."""
        candidates = sorted((len(parts), parts) for parts in (n.split("/") for n in self.names if "METADATA" in n))
        for _, parts in candidates:
            name = "/".join(parts)
            if name != metadata and self.digests[name][1] > MAX_TEXT_BYTES:
                raise Refused(name, f"twine reads this member whole, looking for the metadata, before {metadata}; "
                                    f"it is larger than {size_text(MAX_TEXT_BYTES)}", TWINE_WHEEL)
            if name in self.marked:
                if name != metadata:
                    raise Refused(name, f"twine would upload the name and version this member holds, not those of "
                                        f"{metadata} (it reads the first member named *METADATA* that holds "
                                        f"`Metadata-Version`, fewest path parts first)", TWINE_WHEEL)
                return
        raise Refused(metadata, "no `Metadata-Version` in it", TWINE_WHEEL)

    def check_wheel_file(self, name):
        fields, _ = headers(self.kept[name], name, WHEEL_SPEC,
                            single={"wheel-version", "root-is-purelib", "build"})
        version = fields.get("wheel-version", [""])[0]
        if version.split(".")[0] != "1" or not all(part.isdigit() for part in version.split(".")):
            raise Refused(name, f"Wheel-Version {shown(version)}: pip reads 1.x only", WHEEL_SPEC)
        if fields.get("root-is-purelib", [""])[0] not in ("true", "false"):
            raise Refused(name, "no Root-Is-Purelib of true or false", WHEEL_SPEC)

    def check_record(self, record):
        """Every member is listed once with its SHA-256 and size, but RECORD itself
        (and the signatures RECORD.jws and RECORD.p7s), which have none; no row
        names what the archive does not hold. Rows are read one at a time, and a
        member's digest is replaced by None once its row matched: RECORD of the
        largest wheel costs no second copy of every name."""
        text = io.TextIOWrapper(io.BytesIO(self.kept.pop(record)), encoding="utf-8", newline="")
        listed_itself = False
        try:
            for number, row in enumerate(csv.reader(text, strict=True), 1):
                if not row:
                    continue
                if len(row) != 3:
                    raise Refused(record, f"row {number} has {len(row)} fields, not 3 (path, hash, size)",
                                  RECORD_SPEC)
                path, digest, size = row
                member_name(path, False, RECORD_SPEC)
                if path == record:
                    if listed_itself or digest or size:
                        raise Refused(record, f"row {number}: RECORD lists itself twice, or with a hash or size",
                                      RECORD_SPEC)
                    listed_itself = True
                    continue
                self.check_row(record, number, path, digest, size)
        except csv.Error as err:
            raise Refused(record, f"not a CSV file ({err})", RECORD_SPEC)
        except UnicodeDecodeError as err:
            raise Refused(record, f"not UTF-8 ({err.reason})", RECORD_SPEC)
        unsigned = {f"{self.info}/RECORD.jws", f"{self.info}/RECORD.p7s"}
        for name in self.names:
            if self.digests.get(name) is not None and name != record and name not in unsigned:
                raise Refused(name, "not listed in RECORD", RECORD_SPEC)
        if not listed_itself:
            raise Refused(record, "RECORD does not list itself", RECORD_SPEC)

    def check_row(self, record, number, path, digest, size):
        if path not in self.digests:
            raise Refused(record, f"row {number} lists {shown(path)}, which the archive does not hold", RECORD_SPEC)
        if self.digests[path] is None:
            raise Refused(record, f"row {number} lists {shown(path)} a second time", RECORD_SPEC)
        want, got_size = self.digests[path]
        if not digest:
            raise Refused(path, "its RECORD row has no hash: only RECORD itself may have none", RECORD_SPEC)
        algorithm, _, value = digest.partition("=")
        if algorithm != "sha256":
            raise Refused(path, f"its RECORD hash is {shown(algorithm)}, not sha256", RECORD_SPEC)
        if value != want or size != str(got_size):
            raise Refused(path, "its bytes do not match its RECORD row (hash and size)", RECORD_SPEC)
        self.digests[path] = None


class SdistVisitor:
    def __init__(self, file_name, project, version):
        self.project, self.version, self.kept = project, version, {}
        self.top = file_name[: -len(".tar.gz")]
        self.pkg_info = f"{self.top}/PKG-INFO"
        # The first path part below the top folder, and whether another follows:
        # twine takes the folder all members share as the top (os.path.commonpath).
        self.below, self.shared = None, True

    def member(self, name):
        if name != self.top and not name.startswith(self.top + "/"):
            raise Refused(name, f"outside the top folder {shown(self.top)}: an sdist holds one folder named "
                                f"`{{name}}-{{version}}` as its file is", SDIST_SPEC)
        below = name[len(self.top) + 1:].split("/")[0] or None
        if below is None or (self.below is not None and below != self.below):
            self.shared = False
        self.below = self.below or below
        return Keep(self.kept, name) if name == self.pkg_info else None

    def folder(self, name):
        self.member(name)
        return None

    def finish(self):
        if self.pkg_info not in self.kept:
            raise Refused(None, f"no {self.pkg_info}", SDIST_SPEC)
        if self.shared:
            raise Refused(None, f"every member is in {shown(self.top + '/' + self.below)}: twine takes that as the "
                                f"top folder and finds no PKG-INFO in it", SDIST_SPEC)
        return core_metadata(self.kept[self.pkg_info], self.pkg_info, self.project, self.version)


def inspect_wheel(f, size, budget, file_name, project, version):
    visitor = WheelVisitor(file_name, project, version)
    read_zip(f, size, budget.archive(size), visitor)
    return visitor.finish()


def inspect_sdist(f, size, budget, file_name, project, version):
    visitor = SdistVisitor(file_name, project, version)
    read_tar(f, budget.archive(size), visitor)
    return visitor.finish()
