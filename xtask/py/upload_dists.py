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

import json
import logging
import os
import sys

import requests
import rich
from twine import exceptions, settings
from twine.commands.upload import upload


def main():
    rich.reconfigure(stderr=True, no_color=True, highlight=False)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s", stream=sys.stderr)
    upload_settings = settings.Settings(
        username=os.environ["TWINE_USERNAME"],
        password=os.environ["TWINE_PASSWORD"],
        repository_url=os.environ["TWINE_REPOSITORY_URL"],
        non_interactive=True,
        disable_progress_bar=True,
    )
    paths = sys.argv[1:]
    if paths == ["--stdin"]:
        paths = [line.rstrip("\n") for line in sys.stdin if line.strip()]
    for path in paths:
        result = {"file": os.path.basename(path), "ok": True}
        try:
            upload(upload_settings, [path])
        except requests.HTTPError as err:
            response = err.response
            reason = (response.text or response.reason or "")[:500] if response is not None else str(err)
            result.update(ok=False, kind="http", status=getattr(response, "status_code", None), reason=reason)
        except requests.ConnectionError as err:
            result.update(ok=False, kind="connection", status=None, reason=str(err)[:500])
        except (exceptions.TwineException, OSError, ValueError) as err:
            result.update(ok=False, kind="other", status=None, reason=str(err)[:500])
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
