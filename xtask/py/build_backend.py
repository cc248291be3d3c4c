"""Builds the sdist, then the wheel from the sdist, with the project's own PEP 517
build backend, in this interpreter, for `cargo xtask release` with private
dependencies.

Usage: build_backend.py BACKEND OUT_DIR PROJECT_DIR

The environment holds exactly the hashed lock of the build requirements (installed
by pip beforehand); this process gets no token and no network settings, so build
code never sees a credential. SOURCE_DATE_EPOCH comes from the caller, which makes
the archives reproducible. Standard library only.
"""

import importlib
import os
import sys
import tarfile
import tempfile


def load_backend(spec):
    module, _, attribute = spec.partition(":")
    backend = importlib.import_module(module)
    for part in filter(None, attribute.split(".")):
        backend = getattr(backend, part)
    return backend


def main():
    spec, out, project = sys.argv[1:4]
    out = os.path.abspath(out)
    os.chdir(project)
    backend = load_backend(spec)
    sdist = backend.build_sdist(out)
    print(f"built {sdist}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(os.path.join(out, sdist)) as archive:
            # Our own sdist, just built; the data filter still refuses links and
            # paths out of the folder where this Python has it.
            if hasattr(tarfile, "data_filter"):
                archive.extractall(tmp, filter="data")
            else:
                archive.extractall(tmp)
        os.chdir(os.path.join(tmp, sdist[: -len(".tar.gz")]))
        wheel = backend.build_wheel(out)
    print(f"built {wheel}", flush=True)


if __name__ == "__main__":
    main()
