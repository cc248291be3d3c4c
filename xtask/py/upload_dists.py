"""Uploads distributions with twine for `cargo xtask release`, one file at a time,
in one interpreter (one Python start-up for all of them).

The repository URL and the credentials come from the environment (TWINE_USERNAME,
TWINE_PASSWORD, TWINE_REPOSITORY_URL), never from the arguments. A refused file does
not stop the others. For each file, one JSON line on stdout:
{"file": NAME, "ok": true} or {"file": NAME, "ok": false, "status": HTTP status or
null, "kind": "http" | "connection" | "other", "reason": text}. twine's own output
goes to stderr.

With `--stdin`, the files are read from stdin, one path per line, until it closes:
the release starts this process while it still verifies the files, so that importing
twine overlaps with the verification; it uploads nothing unless it is told which
files, after the verification passed.
"""

import base64
import json
import logging
import os
import re
import sys
import urllib.parse

import requests
import rich
from twine import exceptions, settings
from twine.commands.upload import upload


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


def main():
    # No wrapping: rich would split a long line (a URL with the token in it) across
    # lines, and no mask matches half a token.
    rich.reconfigure(stderr=True, no_color=True, highlight=False, soft_wrap=True, width=100000)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s", stream=sys.stderr)
    upload_settings = settings.Settings(
        username=os.environ["TWINE_USERNAME"],
        password=os.environ["TWINE_PASSWORD"],
        repository_url=os.environ["TWINE_REPOSITORY_URL"],
        non_interactive=True,
        disable_progress_bar=True,
    )
    forms = secret_forms(os.environ["TWINE_PASSWORD"])
    paths = sys.argv[1:]
    if paths == ["--stdin"]:
        paths = [line.rstrip("\n") for line in sys.stdin if line.strip()]
    for path in paths:
        result = {"file": os.path.basename(path), "ok": True}
        try:
            upload(upload_settings, [path])
        except requests.HTTPError as err:
            response = err.response
            reason = (response.text or response.reason or "") if response is not None else str(err)
            status = getattr(response, "status_code", None)
            result.update(ok=False, kind="http", status=status, reason=scrubbed(reason, forms))
        except requests.ConnectionError as err:
            result.update(ok=False, kind="connection", status=None, reason=scrubbed(str(err), forms))
        except (exceptions.TwineException, OSError, ValueError) as err:
            result.update(ok=False, kind="other", status=None, reason=scrubbed(str(err), forms))
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
