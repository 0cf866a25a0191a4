"""What a payout rule refuses, without HTTP: the service layer answers 409 or 422."""

from __future__ import annotations


class Conflict(Exception):
    """The request conflicts with the current state (answered 409)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Unprocessable(Exception):
    """A field of the request is invalid (answered 422 naming the field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
