"""EAS protocol versions: which the device speaks and which it picks (MS-ASHTTP 3.1.3)."""
from __future__ import annotations

from collections.abc import Iterable

#: Every version this client can format requests for, oldest first.
SUPPORTED_VERSIONS: tuple[str, ...] = ("2.5", "12.0", "12.1", "14.0", "14.1", "16.0", "16.1")


def version_tuple(version: str) -> tuple[int, int]:
    """``"12.1"`` -> ``(12, 1)``, so versions compare as numbers, not strings."""
    major, _, minor = version.strip().partition(".")
    try:
        return int(major), int(minor or 0)
    except ValueError:
        raise ValueError(f"not an EAS protocol version: {version!r}") from None


def at_least(version: str, floor: str) -> bool:
    return version_tuple(version) >= version_tuple(floor)


def parse_version_list(header: str | None) -> list[str]:
    """The comma-separated MS-ASProtocolVersions header, as given (MS-ASHTTP 2.2.4.1.2.2)."""
    return [v.strip() for v in (header or "").split(",") if v.strip()]


def choose_version(server_versions: Iterable[str], device_versions: Iterable[str] = SUPPORTED_VERSIONS) -> str | None:
    """The greatest version both sides support (MS-ASHTTP 3.1.3), or None if they share none."""
    common = set(server_versions) & set(device_versions)
    return max(common, key=version_tuple) if common else None
