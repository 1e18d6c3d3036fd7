#!/usr/bin/env python3
"""Container health probe for the web service: exit 0 only if GET /healthz returns 200.

Uses only the standard library, because python:3.11-slim has no curl. Django checks the
Host header against ALLOWED_HOSTS, so the probe sends the first usable ALLOWED_HOSTS
entry instead of 127.0.0.1. It also sends X-Forwarded-Proto: https, as the
TLS-terminating proxy does, so SECURE_SSL_REDIRECT does not answer with a redirect.
Redirects are not followed: a 3xx answer counts as unhealthy.

Environment: HEALTHCHECK_URL (default http://127.0.0.1:8000/healthz), ALLOWED_HOSTS.
"""

import os
import sys
import urllib.error
import urllib.request

URL = os.environ.get("HEALTHCHECK_URL", "http://127.0.0.1:8000/healthz")


def host_header() -> str:
    for entry in os.environ.get("ALLOWED_HOSTS", "").split(","):
        entry = entry.strip()
        if entry and entry != "*":
            return entry.lstrip(".")  # ".example.com" also allows "example.com"
    return "localhost"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError for the 3xx


def main() -> int:
    if not URL.startswith(("http://", "https://")):
        print(f"unhealthy: HEALTHCHECK_URL must be http(s), got {URL!r}", file=sys.stderr)
        return 1
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        URL, headers={"Host": host_header(), "X-Forwarded-Proto": "https"}
    )
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=5) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        print(f"unhealthy: HTTP {exc.code} from {URL}", file=sys.stderr)
        return 1
    except OSError as exc:  # connection refused, timeout, DNS, ...
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"unhealthy: HTTP {status} from {URL}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
