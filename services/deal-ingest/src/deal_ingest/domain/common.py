"""Small readers shared by the CRM translations: decimals, dates, field errors."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from provisio_common.money import parse_amount


class FieldError(ValueError):
    """A body field the door cannot read; `field` is its path in the request body."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def amount_of(value: Any, field: str) -> Decimal:
    """A decimal from a CRM amount: a decimal string, an int, or a JSON number read as Decimal."""
    try:
        return parse_amount(value)
    except ValueError as exc:
        raise FieldError(field, str(exc)) from exc


def instant_of(value: Any, field: str) -> datetime:
    """An aware datetime from ISO 8601 text (UTC if no offset) or epoch milliseconds."""
    if isinstance(value, int) and not isinstance(value, bool):
        return _from_millis(value, field)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return _from_millis(int(text), field)
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise FieldError(field, f"{value!r} is not an ISO 8601 date-time") from exc
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    raise FieldError(field, "must be an ISO 8601 date-time or epoch milliseconds")


def day_of(value: Any, field: str) -> date:
    """A calendar date from `2027-02-03`, a date-time, or epoch milliseconds (UTC)."""
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            return date.fromisoformat(value.strip())
        except ValueError as exc:
            raise FieldError(field, f"{value!r} is not a date") from exc
    return instant_of(value, field).astimezone(UTC).date()


def _from_millis(value: int, field: str) -> datetime:
    try:
        return datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise FieldError(field, "epoch milliseconds out of range") from exc


MAX_CONTRACT_MONTHS = 600


def months_of(value: Any, field: str) -> int | None:
    """A contract term in whole months (1..600) from an int or a number as text (`36`,
    `36.0`: CRMs send number properties as text); None for null/empty."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise FieldError(field, "must be a whole number of months")
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except ArithmeticError:
        raise FieldError(field, f"{value!r} is not a number of months") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise FieldError(field, f"{value!r} is not a whole number of months")
    if not 1 <= number <= MAX_CONTRACT_MONTHS:
        raise FieldError(field, f"must be from 1 to {MAX_CONTRACT_MONTHS} months")
    return int(number)


def start_of(value: Any, field: str) -> str | None:
    """A contract's first day (ISO date) from a date, a date-time or epoch milliseconds;
    None for null/empty."""
    return None if value is None or value == "" else day_of(value, field).isoformat()


def text_of(value: Any, field: str, *, required: bool = False) -> str | None:
    """A non-empty string from a string or integer id; None for null/empty unless required."""
    if value is None or value == "":
        if required:
            raise FieldError(field, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise FieldError(field, "must be a string or an integer id")
    return str(value)


def storable_text(value: Any, path: str = "") -> None:
    """Refuse text Postgres cannot store: NUL characters and lone surrogates, anywhere in a
    parsed JSON body (keys too); FieldError names the first one (`meta.id`, `data.lines[2]`)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise FieldError(path or "body", "must not contain NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise FieldError(path or "body", "is not valid Unicode text (a lone surrogate)") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            storable_text(key, path or "body")
            storable_text(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            storable_text(item, f"{path}[{i}]")
