"""Builds the sdist, then the wheel from the sdist, with the project's own PEP 517
build backend, for `cargo xtask release` (step 5, Build).

Usage: build_dists.py BUILD_PYTHON OUT_DIR PROJECT_DIR

Runs in the release's tool environment (pypa/build, packaging). The backend's hooks
run in BUILD_PYTHON, the interpreter of a fresh environment that holds exactly
build-requirements.txt (installed beforehand, hashes checked), through
pypa/build's ProjectBuilder and pyproject-hooks, each hook in a subprocess as PEP
517 asks. Nothing is installed here: a requirement the backend asks for
(`[build-system] requires`, `get_requires_for_build_*`) that the environment lacks
stops the build with the fix. This process and the hooks get no token and no
network settings from the caller.

SOURCE_DATE_EPOCH (the commit time) comes from the caller. An sdist whose archive
carries later times than it (setuptools writes the files' own times and the gzip
header's current time) has them clamped to it, as the reproducible-builds
specification of SOURCE_DATE_EPOCH describes, so two builds of one commit are
byte-identical; the content and order of its members are untouched.
"""

import gzip
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

from build import ProjectBuilder
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# Exit status when the environment lacks a requirement: the caller names the fix.
MISSING = 3

INSTALLED = (
    "import importlib.metadata as m, json\n"
    "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions() if d.metadata['Name']}))\n"
)


def installed(python):
    """{normalized name: version} of what the build environment holds."""
    out = subprocess.run([python, "-I", "-c", INSTALLED], capture_output=True, text=True, check=True)
    return {canonicalize_name(name): version for name, version in json.loads(out.stdout).items()}


def check(requirements, have, asked_by):
    """Every requirement (whose marker holds here) must be installed, in a version
    its specifier admits. The build environment is made from the same interpreter
    as this one, so markers evaluate alike in both."""
    missing = []
    for text in sorted(set(requirements)):
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        version = have.get(canonicalize_name(requirement.name))
        if version is None:
            missing.append(f"{text} (not in the lock)")
        elif not requirement.specifier.contains(version, prereleases=True):
            missing.append(f"{text} (the lock has {version})")
    if missing:
        print(
            f"the build backend asks for {', '.join(missing)} through {asked_by}, which build-requirements.txt "
            "does not provide: add it to [build-system] requires in pyproject.toml and run `cargo xtask lock`",
            file=sys.stderr,
            flush=True,
        )
        sys.exit(MISSING)


def build(source_dir, python, distribution, out, have):
    builder = ProjectBuilder(source_dir, python_executable=python)
    check(builder.build_system_requires, have, "[build-system] requires")
    check(builder.get_requires_for_build(distribution), have, f"get_requires_for_build_{distribution}")
    return builder.build(distribution, out)


def gzip_mtime(path):
    with open(path, "rb") as f:
        header = f.read(8)
    return int.from_bytes(header[4:8], "little")


def clamp_sdist(path, epoch):
    """Rewrites the sdist with every time at most `epoch`, owners anonymous; returns
    whether it had to."""
    with tarfile.open(path, "r:gz") as archive:
        members = archive.getmembers()
    late = gzip_mtime(path) > epoch or any(m.mtime > epoch for m in members)
    if not late:
        return False
    tmp = path + ".clamped"
    with tarfile.open(path, "r:gz") as src, open(tmp, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=epoch, compresslevel=9) as gz:
            with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as dst:
                for member in src.getmembers():
                    member.mtime = min(int(member.mtime), epoch)
                    member.pax_headers.pop("mtime", None)
                    member.uid = member.gid = 0
                    member.uname = member.gname = ""
                    dst.addfile(member, src.extractfile(member) if member.isfile() else None)
    os.replace(tmp, path)
    return True


def unpack(sdist, into):
    """Our own sdist, just built: the data filter (where this Python has it) still
    refuses links and paths out of the folder."""
    with tarfile.open(sdist) as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(into, filter="data")
        else:
            for member in archive.getmembers():
                if member.name.startswith("/") or ".." in member.name.split("/") or member.issym() or member.islnk():
                    raise SystemExit(f"the sdist holds {member.name!r}, which it must not")
            archive.extractall(into)
    tops = os.listdir(into)
    if len(tops) != 1:
        raise SystemExit(f"the sdist must hold one top-level folder, not {tops}")
    return os.path.join(into, tops[0])


def main():
    python, out, project = sys.argv[1:4]
    out = os.path.abspath(out)
    epoch = int(os.environ["SOURCE_DATE_EPOCH"])
    have = installed(python)
    sdist = build(project, python, "sdist", out, have)
    if clamp_sdist(sdist, epoch):
        print(f"{os.path.basename(sdist)}: times clamped to SOURCE_DATE_EPOCH={epoch}", flush=True)
    print(f"built {os.path.basename(sdist)}", flush=True)
    tmp = tempfile.mkdtemp()
    try:
        wheel = build(unpack(sdist, tmp), python, "wheel", out, have)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"built {os.path.basename(wheel)}", flush=True)


if __name__ == "__main__":
    main()
