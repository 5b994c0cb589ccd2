"""The C2PA SDK, offline: imported on first use, one context per process and trust list, with
every network fetch (remote manifests, OCSP, timestamps) switched off in its settings."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from veriscan.analyzers.failures import log_exception
from veriscan.analyzers.provenance.base import JSON, ProvenanceError

MAX_ANCHOR_BYTES = 16 << 20

OFFLINE_SETTINGS: dict[str, JSON] = {
    "verify": {
        "verify_after_reading": True,
        "verify_trust": True,
        "verify_timestamp_trust": True,
        "ocsp_fetch": False,
        "remote_manifest_fetch": False,
    },
    # An empty allow-list denies every host: the SDK refuses any HTTP request outright.
    "core": {"allowed_network_hosts": []},
}


@functools.cache
def load_sdk() -> Any:
    """The SDK, imported on first use: loading its native library costs about 70 ms."""
    import c2pa

    return c2pa


@functools.cache
def supported() -> frozenset[str]:
    return frozenset(m.lower() for m in load_sdk().Reader.get_supported_mime_types())


@functools.lru_cache(maxsize=8)
def anchors_text(value: str | None) -> str | None:
    """PEM text as given, or read from a local file path; validated by the SDK afterwards."""
    if value is None or "-----BEGIN" in value:
        return value
    path = Path(value).expanduser()
    try:
        if path.stat().st_size > MAX_ANCHOR_BYTES:
            raise ProvenanceError(
                f"C2PA trust anchors file {path} is over {MAX_ANCHOR_BYTES} bytes"
            )
        text = path.read_text("utf-8", errors="replace")
    except OSError as exc:
        reason = exc.strerror or "read failed"
        raise ProvenanceError(f"C2PA trust anchors file {path} unreadable: {reason}") from exc
    if "-----BEGIN" not in text:
        raise ProvenanceError(f"C2PA trust anchors file {path} holds no PEM certificate")
    return text


@functools.lru_cache(maxsize=8)
def offline_context(pid: int, anchors: str | None) -> Any:
    """One offline SDK context per process and trust list (a forked child builds its own)."""
    sdk = load_sdk()
    settings: dict[str, JSON] = dict(OFFLINE_SETTINGS)
    if anchors is not None:
        settings["trust"] = {"trust_anchors": anchors}
    try:
        return sdk.Context.from_dict(settings)
    except sdk.C2paError as exc:
        log_exception("C2PA trust anchors", "settings", exc)
        raise ProvenanceError(
            "C2PA trust anchors rejected by the C2PA SDK: not usable as trust anchors "
            "(details in the run log)"
        ) from exc
