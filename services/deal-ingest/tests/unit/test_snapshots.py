from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from deal_ingest.domain.snapshots import FieldError, Stored, decide, generic_deal

NOW = datetime(2027, 2, 3, 10, 0, tzinfo=UTC)
DATA = {
    "external_id": "D-1",
    "status": "won",
    "amount": "10.00",
    "currency": "USD",
    "owner": "rep-1",
    "changed_at": "2027-02-03T10:00:00Z",
}


def stored_from(data: dict[str, object], revision: int) -> Stored:
    snap = generic_deal(data, NOW).model_copy(update={"revision": revision})
    return Stored(revision, snap.changed_at, snap.to_data())


def test_first_snapshot_is_revision_one() -> None:
    assert decide(None, generic_deal(DATA, NOW)).revision == 1


def test_a_change_is_the_next_revision() -> None:
    incoming = generic_deal({**DATA, "amount": "20.00", "changed_at": "2027-02-04T00:00:00Z"}, NOW)
    assert decide(stored_from(DATA, 3), incoming).outcome == "new_revision"
    assert decide(stored_from(DATA, 3), incoming).revision == 4


def test_an_older_change_does_not_move_the_deal_back() -> None:
    incoming = generic_deal({**DATA, "amount": "5.00", "changed_at": "2027-02-01T00:00:00Z"}, NOW)
    assert decide(stored_from(DATA, 2), incoming).outcome == "older_than_stored"


def test_the_same_content_later_is_no_new_revision() -> None:
    incoming = generic_deal({**DATA, "changed_at": "2027-03-01T00:00:00Z"}, NOW)
    assert decide(stored_from(DATA, 2), incoming).outcome == "unchanged"


def test_revision_is_ours_to_assign_and_native_sources_are_refused() -> None:
    with pytest.raises(FieldError) as info:
        generic_deal({**DATA, "revision": 9}, NOW)
    assert info.value.field == "data.revision"
    with pytest.raises(FieldError):
        generic_deal({**DATA, "source": "hubspot"}, NOW)


def test_changed_at_defaults_to_receipt_time_and_float_amount_is_refused() -> None:
    data = {k: v for k, v in DATA.items() if k != "changed_at"}
    assert generic_deal(data, NOW).changed_at == NOW
    with pytest.raises(ValidationError):
        generic_deal({**DATA, "amount": 10.0}, NOW)
