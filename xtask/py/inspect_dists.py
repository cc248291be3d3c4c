"""Reads the metadata of built distributions for `cargo xtask release` (verify step).

With `--twine-check` first, it also runs `twine check --strict` on the files, in
this same interpreter (one Python start-up instead of two), and prints
`{"twine_check": "passed" | "failed"}` as the last line; twine's own messages go to
stderr.

For each file given, prints one JSON object per line:
{"file", "name", "version", "metadata_version", "problems": [...]}. The name and
version come from the wheel's METADATA or the sdist's PKG-INFO. `problems` lists
what makes the archive unsafe or inconsistent: member paths that leave the archive,
links or devices in an sdist, more or less than one top-level folder or dist-info,
and wheel files whose RECORD hash or size does not match. The Rust side decides
what to do with them. Standard library only: this runs in the pinned tool
environment but needs none of its packages.
"""

import base64
import hashlib
import json
import sys
import tarfile
import zipfile
from email.parser import HeaderParser


def unsafe_path(name):
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":")


def headers(raw):
    msg = HeaderParser().parsestr(raw.decode("utf-8"))
    return msg.get("Name"), msg.get("Version"), msg.get("Metadata-Version")


def inspect_wheel(path, problems):
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        problems += [f"unsafe member path {n!r}" for n in names if unsafe_path(n)]
        infos = sorted({n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info")})
        if len(infos) != 1:
            problems.append(f"expected one .dist-info folder, found {infos}")
            return None, None, None
        info = infos[0]
        record = zf.read(f"{info}/RECORD").decode("utf-8").splitlines()
        listed = set()
        for line in record:
            if not line.strip():
                continue
            name, digest, size = line.rsplit(",", 2)
            name = name.strip('"')
            listed.add(name)
            if not digest:
                continue  # RECORD lists itself without a hash
            algo, _, want = digest.partition("=")
            if algo != "sha256":
                problems.append(f"RECORD uses {algo!r} for {name!r}, not sha256")
                continue
            data = zf.read(name)
            got = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            if got != want or (size and int(size) != len(data)):
                problems.append(f"{name!r} does not match its RECORD entry")
        unlisted = [n for n in names if not n.endswith("/") and n not in listed]
        problems += [f"{n!r} is not listed in RECORD" for n in unlisted]
        return headers(zf.read(f"{info}/METADATA"))


def inspect_sdist(path, problems):
    with tarfile.open(path, "r:gz") as tf:
        members = tf.getmembers()
        for m in members:
            if unsafe_path(m.name):
                problems.append(f"unsafe member path {m.name!r}")
            if not (m.isfile() or m.isdir()):
                problems.append(f"{m.name!r} is a link or special file")
        tops = sorted({m.name.split("/")[0] for m in members})
        if len(tops) != 1:
            problems.append(f"expected one top-level folder, found {tops}")
            return None, None, None
        pkg_info = tf.extractfile(f"{tops[0]}/PKG-INFO")
        if pkg_info is None:
            problems.append("no PKG-INFO in the top-level folder")
            return None, None, None
        return headers(pkg_info.read())


def twine_check(paths):
    # Imported here: plain inspection must not need twine.
    import logging

    import rich
    from twine.commands.check import check

    # twine prints with rich and logs warnings: both to stderr, stdout is ours.
    rich.reconfigure(stderr=True, no_color=True, highlight=False)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s", stream=sys.stderr)
    failed = check(paths, strict=True)
    print(json.dumps({"twine_check": "failed" if failed else "passed"}))
    if failed:
        sys.exit(1)


def main():
    args = sys.argv[1:]
    run_twine_check = args[:1] == ["--twine-check"]
    if run_twine_check:
        args = args[1:]
    for path in args:
        problems = []
        try:
            if path.endswith(".whl"):
                name, version, metadata_version = inspect_wheel(path, problems)
            else:
                name, version, metadata_version = inspect_sdist(path, problems)
        except (OSError, KeyError, ValueError, zipfile.BadZipFile, tarfile.TarError) as err:
            problems.append(f"cannot read the archive: {err}")
            name = version = metadata_version = None
        print(json.dumps({
            "file": path,
            "name": name,
            "version": version,
            "metadata_version": metadata_version,
            "problems": problems,
        }))
    if run_twine_check:
        twine_check(args)


if __name__ == "__main__":
    main()
