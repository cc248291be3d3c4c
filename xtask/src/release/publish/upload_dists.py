"""Uploads distributions with twine for `cargo xtask release`, one file at a time,
in one interpreter (one Python start-up for all of them).

The repository URL and the credentials come from the environment (TWINE_USERNAME,
TWINE_PASSWORD, TWINE_REPOSITORY_URL), never from the arguments. A refused file does
not stop the others. For each file, as soon as it is done, one JSON line on stdout:
{"file": NAME, "ok": true} or {"file": NAME, "ok": false, "status": HTTP status or
null, "kind": KIND, "reason": text, "retry_after": seconds or null}, where KIND is
"http" (an answer with an error status), "name" (the host name did not resolve),
"refused" (the connection was refused), "connect-timeout" (no connection within
XTASK_CONNECT_TIMEOUT), "tls" (the TLS handshake failed), "timeout" (the request
was sent, then silence for XTASK_UPLOAD_TIMEOUT), "deadline" (the file's whole
upload did not end within its deadline), "connection" (the connection broke
mid-answer, or another connection error), "invalid" (the file is not a readable
distribution), "mismatch" (twine read it otherwise than the inspection), "io" (a
local file error) or "other" (any other exception, named). Lines already printed
survive a crash of this process; twine's own output goes to stderr.

Every request has a timeout (XTASK_CONNECT_TIMEOUT, XTASK_UPLOAD_TIMEOUT: seconds
to connect, and of silence on the connection), so a server that stalls ends the
upload instead of holding the job; and each file's whole upload, twine's own
connection retries included, has a deadline the release computes from its size
(twice `XTASK_UPLOAD_TIMEOUT` + the size at `XTASK_UPLOAD_MIN_RATE`): a server that
trickles its answer is stopped there (SIGALRM interrupts even a blocked read).

With `--stdin`, the files are read from stdin until it closes, one JSON object per
line: {"path", "name", "version", "sha256", "deadline"}: what the inspection
checked, and the seconds the file's upload may take in all. The release starts
this process in its Publish step, after the files were verified.

twine reads each file itself (the name and version it sends come from its own
reading of the archive): the package twine made is compared with what the
inspection checked (the project's normalized name, the version, the SHA-256 of the
file) before anything is sent, and a difference is refused with kind "mismatch".
"""

import base64
import json
import logging
import os
import re
import signal
import socket
import ssl
import stat
import sys
import tarfile
import urllib.parse
import zipfile

import requests
import rich
import urllib3
from packaging.utils import canonicalize_name
from twine import exceptions, settings
from twine.commands import upload as upload_command
from twine.commands.upload import upload


class Mismatch(Exception):
    """twine read a file otherwise than the inspection did: nothing is sent."""


class DeadlinePassed(BaseException):
    """A file's upload did not end within its deadline. A BaseException, so that
    no `except Exception` in twine, requests or urllib3 (a retry loop) swallows it."""


def within(seconds, upload):
    """Runs `upload()`, interrupted when `seconds` pass: SIGALRM's handler raises in
    the main thread, after the blocked system call it interrupts (PEP 475)."""

    def expired(signum, frame):
        raise DeadlinePassed(f"the upload did not end within {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return upload()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def expecting(expected):
    """Makes twine check each package it builds against `expected` (file name ->
    {"name", "version", "sha256"}) before it uploads it: the check sees the very
    object twine sends (`twine.commands.upload._make_package`, twine 6.2)."""
    make_package = upload_command._make_package

    def checked(filename, *args, **kwargs):
        package = make_package(filename, *args, **kwargs)
        want = expected.get(os.path.basename(filename))
        sent = package.metadata_dictionary()
        got = {"name": canonicalize_name(sent["name"]), "version": sent["version"], "sha256": package.sha2_digest}
        if want is None or any(got[key] != want[key] for key in got):
            raise Mismatch(f"twine read {sent['name']} {sent['version']} (sha256:{package.sha2_digest}) from "
                           f"{os.path.basename(filename)}, but the inspection checked {want}: nothing was sent")
        return package

    upload_command._make_package = checked


def secret_forms(token):
    """The token as a server could echo it: as is, percent-encoded (either case of
    hex digit), and in the Basic form twine sends (`aws:TOKEN`)."""
    quoted = urllib.parse.quote(token, safe="")
    basic = base64.b64encode(f"{os.environ['TWINE_USERNAME']}:{token}".encode()).decode()
    forms = {token, quoted, re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quoted), basic}
    return sorted((it for it in forms if len(it) >= 8), key=len, reverse=True)


def scrubbed(text, forms, limit=4000):
    """`text` without the token, then cut to `limit` characters: cut first, a part of
    the token would no longer match and would be printed."""
    for form in forms:
        text = text.replace(form, "***")
    return text[:limit]


def seconds(name, default):
    try:
        value = float(os.environ.get(name, "") or default)
        return value if value > 0 else default
    except ValueError:
        return default


def with_timeouts():
    """Every request twine sends gets a connect and a read timeout (twine sets none)."""
    timeout = (seconds("XTASK_CONNECT_TIMEOUT", 5.0), seconds("XTASK_UPLOAD_TIMEOUT", 120.0))
    original = requests.Session.request

    def request(self, method, url, **kwargs):
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = timeout
        return original(self, method, url, **kwargs)

    requests.Session.request = request


def causes(err):
    """`err` and what it wraps: requests wraps urllib3's MaxRetryError in its
    arguments, which holds the last attempt's error in `reason`."""
    seen, todo = [], [err]
    while todo:
        it = todo.pop()
        if it is None or any(it is known for known in seen) or len(seen) > 20:
            continue
        seen.append(it)
        todo += [it.__cause__, it.__context__, getattr(it, "reason", None)]
        todo += [arg for arg in getattr(it, "args", ()) if isinstance(arg, BaseException)]
    return seen


def connection_kind(err):
    """What a connection error says about where the connection failed."""
    chain = causes(err)
    if any(isinstance(it, (urllib3.exceptions.NameResolutionError, socket.gaierror)) for it in chain):
        return "name"
    if any(isinstance(it, ConnectionRefusedError) for it in chain):
        return "refused"
    if any(isinstance(it, (requests.exceptions.SSLError, ssl.SSLError)) for it in chain):
        return "tls"
    if any(isinstance(it, urllib3.exceptions.ConnectTimeoutError) for it in chain):
        return "connect-timeout"
    return "connection"


def classify(err, forms):
    """The failure kind of an exception from twine, requests or the file."""
    text = scrubbed(str(err) or type(err).__name__, forms)
    if isinstance(err, DeadlinePassed):
        return {"kind": "deadline", "status": None, "reason": text}
    if isinstance(err, requests.HTTPError):
        response = err.response
        if response is None:
            return {"kind": "http", "status": None, "reason": text}
        retry_after = response.headers.get("Retry-After", "")
        return {
            "kind": "http",
            "status": response.status_code,
            "reason": scrubbed(response.text or response.reason or "", forms),
            "retry_after": int(retry_after) if retry_after.strip().isdigit() else None,
        }
    # ConnectTimeout before Timeout and ConnectionError: it is both.
    if isinstance(err, requests.ConnectTimeout):
        return {"kind": "connect-timeout", "status": None, "reason": text}
    if isinstance(err, requests.Timeout):
        return {"kind": "timeout", "status": None, "reason": text}
    if isinstance(err, (requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
                        requests.exceptions.ContentDecodingError, requests.RequestException)):
        return {"kind": connection_kind(err), "status": None, "reason": f"{type(err).__name__}: {text}"}
    if isinstance(err, Mismatch):
        return {"kind": "mismatch", "status": None, "reason": text}
    if isinstance(err, (zipfile.BadZipFile, tarfile.TarError, exceptions.InvalidDistribution)):
        return {"kind": "invalid", "status": None, "reason": f"{type(err).__name__}: {text}"}
    if isinstance(err, OSError):
        return {"kind": "io", "status": None, "reason": f"{type(err).__name__}: {text}"}
    return {"kind": "other", "status": None, "reason": f"{type(err).__name__}: {text}"}


def main():
    # No wrapping: rich would split a long line (a URL with the token in it) across
    # lines, and no mask matches half a token.
    rich.reconfigure(stderr=True, no_color=True, highlight=False, soft_wrap=True, width=100000)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s", stream=sys.stderr)
    with_timeouts()
    upload_settings = settings.Settings(
        username=os.environ["TWINE_USERNAME"],
        password=os.environ["TWINE_PASSWORD"],
        repository_url=os.environ["TWINE_REPOSITORY_URL"],
        non_interactive=True,
        disable_progress_bar=True,
    )
    forms = secret_forms(os.environ["TWINE_PASSWORD"])
    if sys.argv[1:] != ["--stdin"]:
        sys.exit("usage: upload_dists.py --stdin (one JSON object per line: path, name, version, sha256)")
    files = [json.loads(line) for line in sys.stdin if line.strip()]
    expecting({os.path.basename(it["path"]): it for it in files})
    for path, deadline in ((it["path"], float(it["deadline"])) for it in files):
        result = {"file": os.path.basename(path), "ok": True}
        try:
            # twine opens the file by its path: it must still be the regular file the
            # inspection read (a link or a FIFO in its place is refused, not opened).
            if not stat.S_ISREG(os.lstat(path).st_mode):
                raise Mismatch(f"{os.path.basename(path)} is no longer a regular file: nothing was sent")
            within(deadline, lambda: upload(upload_settings, [path]))
        except (Exception, DeadlinePassed) as err:  # noqa: BLE001 - every failure becomes a result line
            result.update(ok=False, **classify(err, forms))
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
