"""What the kinds that ask a Prometheus server share: which server, the API URL, and reading its answer
fail closed (an HTTP or Prometheus error, or a body that is not a Prometheus answer, is a reason)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from spark_ops import strict_json
from spark_ops.config import Profile, Target
from spark_ops.config.target import target_with_credentials
from spark_ops.errors import ConfigError, TargetError, clip
from spark_ops.units import finite_number

if TYPE_CHECKING:  # the runner (httpx, aiohttp) loads only when checks run
    from spark_ops.transport import Fetched

QUERY_PATH = "/api/v1/query"
QUERY_RANGE_PATH = "/api/v1/query_range"
MAX_TEXT_CHARS = 200  # of one Prometheus error or warning in a reason


@dataclass(frozen=True, slots=True)
class Data:
    """A successful answer's ``data`` (with ``resultType`` and ``result``) and Prometheus' warnings."""

    result_type: Any
    result: Any
    warnings: list[str]


def server_target(prometheus_url: str | None, profile: Profile) -> Target:
    """The Prometheus server a check asks: its own ``prometheus_url``, else the profile's."""
    if prometheus_url is not None:
        # Only the URL's own credentials: the profile's headers belong to the profile's server.
        try:
            return profile.target(service=None, path=None, url=prometheus_url)
        except ConfigError as exc:
            raise ConfigError(exc.reason, key="prometheus_url") from None
    config = profile.config.prometheus
    if config.url is None:
        raise ConfigError(
            f"no Prometheus server: set prometheus_url here or [prometheus] url in profile {profile.name!r}",
            key="prometheus_url",
        )
    return target_with_credentials(config.url, dict(config.headers))


def api_target(server: Target, path: str, params: dict[str, str]) -> Target:
    """``server`` (which may sit under a path prefix) with the API ``path`` and query ``params``."""
    parts = urlsplit(server.url)
    query = "&".join(part for part in (parts.query, urlencode(params)) if part)
    url = urlunsplit(parts._replace(path=parts.path.rstrip("/") + path, query=query, fragment=""))
    return Target(url=url, headers=server.headers)


def read_data(fetched: Fetched, server: str) -> Data | str:
    """The answer's data, or why it cannot be judged (Prometheus' own error words where it gave some).

    An answer with a key written twice raises TargetError (FAIL): it was read, and it says two things.
    """
    answered = f"Prometheus {server} -> HTTP {fetched.status}"
    try:
        document = strict_json.loads(fetched.body)
    except strict_json.AmbiguousJson as exc:
        raise TargetError(f"{answered}: ambiguous JSON: {exc}") from None
    except (ValueError, RecursionError):
        document = None
    if not isinstance(document, dict):
        kind = fetched.headers.get("content-type", "unknown content type")
        text = " ".join(fetched.body.decode("utf-8", errors="replace").split())
        shown = f": {clip(text, 80)}" if text else ""
        return f"{answered}, not a Prometheus answer ({kind}){shown}"
    if not 200 <= fetched.status < 300 or document.get("status") != "success":
        error_type, error = document.get("errorType"), document.get("error")
        if isinstance(error, str) and error:
            return f"{answered}: {error_type or 'error'}: {clip(error, MAX_TEXT_CHARS)}"
        return f"{answered}, status {clip(repr(document.get('status')), 40)}, no error message"
    data = document.get("data")
    if not isinstance(data, dict) or "result" not in data:
        return f"{answered}, but the answer has no data.result"
    warnings = document.get("warnings") or []
    if not isinstance(warnings, list):
        warnings = [warnings]
    return Data(data.get("resultType"), data["result"], [str(w) for w in warnings])


def sample_value(pair: Any) -> float | None:
    """The number of a ``[timestamp, "1.5"]`` pair ("NaN", "+Inf" and "-Inf" included), else None."""
    if not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[1], str):
        return None
    try:
        return float(pair[1])
    except ValueError:
        return None


def sample_time(pair: Any) -> float | None:
    """The Unix time of a ``[timestamp, "1.5"]`` pair (for an instant query, when it was evaluated)."""
    if not isinstance(pair, list) or len(pair) != 2:
        return None
    return finite_number(pair[0])
