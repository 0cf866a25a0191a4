"""Standard Webhooks signing and verification (webhook-id, webhook-timestamp,
webhook-signature; `whsec_` secrets; several signatures for key rotation).

Signed content is `{id}.{timestamp}.{body}`, HMAC-SHA256 with the base64-decoded secret,
sent as `v1,<base64>`; several space-separated signatures may be present.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping, Sequence

SECRET_PREFIX = "whsec_"
TOLERANCE_S = 5 * 60


class WebhookRefused(Exception):
    """The delivery is not authentic or not fresh; `reason` is a short metric label."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def new_secret() -> str:
    """A new Standard Webhooks secret (`whsec_` + 24 random bytes, base64)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `v1,<base64>` signature of one delivery."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, msg_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The Standard Webhooks headers (id, timestamp, v1 signature) for a body."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(secret, msg_id, ts, body),
    }


def verify(
    secrets_: Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance_s: int = TOLERANCE_S,
) -> str:
    """Check a delivery against every active secret; return its webhook-id or raise."""
    msg_id = headers.get("webhook-id")
    ts_text = headers.get("webhook-timestamp")
    signature_header = headers.get("webhook-signature")
    if not msg_id or not ts_text or not signature_header:
        raise WebhookRefused(
            "missing_headers", "webhook-id, webhook-timestamp and webhook-signature are required"
        )
    # Seconds since the epoch in ASCII digits: `int()` would take Unicode digits and 400
    # digits overflow the float comparison below.
    if not (ts_text.isascii() and ts_text.isdigit() and len(ts_text) <= 12):
        raise WebhookRefused("bad_timestamp", "webhook-timestamp is not an integer")
    timestamp = int(ts_text)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise WebhookRefused("stale_timestamp", "webhook-timestamp is outside the 5-minute window")
    offered = [part.partition(",")[2] for part in signature_header.split() if part.startswith("v1,")]
    for secret in secrets_:
        expected = sign(secret, msg_id, timestamp, body).partition(",")[2]
        if any(hmac.compare_digest(expected.encode(), c.encode("utf-8", "replace")) for c in offered):
            return msg_id
    raise WebhookRefused("bad_signature", "no signature matches an active secret")
