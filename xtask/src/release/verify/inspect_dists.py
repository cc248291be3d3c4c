"""Reads built distributions strictly for `cargo xtask release` (the Verify step, and
Check artifacts of `--publish-only`):

    inspect_dists.py --name NAME --version VERSION [--twine-check] FILE...

For each file, one JSON line on stdout: {"file", "name", "version",
"metadata_version", "problems": [...]}. The name and version are those of the one
member every reader takes as the metadata (the wheel's `.dist-info/METADATA`, the
sdist's `PKG-INFO`); `problems` holds the refusal, which names the member, the rule
and the specification it follows (`strict_archive.Refused`). An archive is read
only if it is a regular file (never through a link, never a FIFO), in chunks, and
within the limits of `strict_archive`, counted over all the files together. The
readers are `strict_zip` and `strict_tar`; the wheel and sdist rules, including
which member twine reads, are in `strict_dist`.

With `--twine-check`, once every file passed, `twine check --strict` runs on them in
this same interpreter (one Python start-up instead of two): first the line
`{"twine_check": "started"}`, then `{"twine_check": "passed" | "failed"}`; twine's
own messages go to stderr. It does not run when a file was refused: its reader
would meet the same fault and fail with a traceback instead of the rule.

Standard library only, but for twine: this runs in the pinned tool environment.
"""

import argparse
import json
import os
import sys

from strict_archive import Budget, Refused, open_regular
from strict_dist import inspect_wheel, inspect_sdist


def inspect(path, budget, project, version):
    """(name, version, metadata_version, problems) of one file."""
    file_name = os.path.basename(path)
    try:
        f, size = open_regular(path)
        with f:
            read = inspect_wheel if file_name.endswith(".whl") else inspect_sdist
            name, found, metadata_version = read(f, size, budget, file_name, project, version)
        return name, found, metadata_version, []
    except Refused as err:
        return None, None, None, [str(err)]
    except OSError as err:
        return None, None, None, [f"cannot read it: {err.strerror or err}"]


def twine_check(paths):
    # Imported here: the inspection itself needs no twine.
    import logging

    import rich
    from twine import package
    from twine.commands.check import check

    # twine check renders the description only; the digests its PackageFile makes
    # of every file (MD5, SHA-256 and BLAKE2, the whole file three times) are never
    # used by it, and took most of the check's time for the largest archives.
    package.HashManager.hash = lambda self: None

    # twine prints with rich and logs warnings: both to stderr, stdout is ours.
    rich.reconfigure(stderr=True, no_color=True, highlight=False)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s", stream=sys.stderr)
    print(json.dumps({"twine_check": "started"}), flush=True)
    failed = check(paths, strict=True)
    print(json.dumps({"twine_check": "failed" if failed else "passed"}), flush=True)
    if failed:
        sys.exit(1)


def main():
    parser = argparse.ArgumentParser(description="Reads built distributions strictly.")
    parser.add_argument("--name", required=True, help="the project's name")
    parser.add_argument("--version", required=True, help="the release's version")
    parser.add_argument("--twine-check", action="store_true")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    budget, refused = Budget(), False
    for path in args.files:
        name, found, metadata_version, problems = inspect(path, budget, args.name, args.version)
        refused = refused or bool(problems)
        print(json.dumps({
            "file": path,
            "name": name,
            "version": found,
            "metadata_version": metadata_version,
            "problems": problems,
        }), flush=True)
    if args.twine_check and not refused:
        twine_check(args.files)


if __name__ == "__main__":
    main()
