"""The client half of the browser login: ask the running monitor (with the workspace token) for a
one-time code and build the URL that turns it into a session cookie."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from autonomic.errors import AutonomicError, NotRunningError


def login_url(base_url: str, token: str, timeout: float = 10.0) -> str:
    """A one-time login URL of the dashboard at `base_url` (good once, for a minute)."""
    request = urllib.request.Request(  # noqa: S310 - the dashboard's own http:// URL
        f"{base_url}/api/login-codes",
        data=b"{}",
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - see above
            body = json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        raise AutonomicError(
            f"the dashboard at {base_url} refused the login ({exc.code}): {_detail(exc)}"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        raise NotRunningError(
            f"the dashboard is not answering at {base_url} ({getattr(exc, 'reason', exc)}); "
            "is the monitor running? ('autonomic status monitor')"
        ) from None
    except ValueError:
        raise AutonomicError(f"{base_url} did not answer like an autonomic dashboard") from None
    return f"{base_url}{body['path']}"


def _detail(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read()).get("detail", ""))
    except (ValueError, OSError, AttributeError):
        return ""
