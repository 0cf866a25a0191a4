import itertools
from collections.abc import Mapping
from datetime import UTC, datetime

import pytest

from deal_ingest.domain.snapshots import Decision, FieldError, Stored, decide, generic_deal

NOW = datetime(2027, 2, 3, 10, 0, tzinfo=UTC)
DATA = {
    "external_id": "D-1",
    "status": "won",
    "amount": "10.00",
    "currency": "USD",
    "owner": "rep-1",
    "changed_at": "2027-02-03T10:00:00Z",
}


def stored_from(data: Mapping[str, object], revision: int) -> Stored:
    snap = generic_deal(data, NOW).model_copy(update={"revision": revision})
    return Stored(revision, snap.changed_at, snap.to_data())


def test_first_snapshot_is_revision_one_and_current() -> None:
    assert decide([], generic_deal(DATA, NOW)) == Decision("new_revision", 1, current=True, publish=True)


def test_a_change_is_the_next_revision() -> None:
    incoming = generic_deal({**DATA, "amount": "20.00", "changed_at": "2027-02-04T00:00:00Z"}, NOW)
    assert decide([stored_from(DATA, 3)], incoming) == Decision("new_revision", 4, current=True, publish=True)


def test_a_late_change_is_kept_in_history_without_becoming_current() -> None:
    incoming = generic_deal({**DATA, "amount": "5.00", "changed_at": "2027-02-01T00:00:00Z"}, NOW)
    assert decide([stored_from(DATA, 2)], incoming) == Decision(
        "new_revision", 3, current=False, publish=True
    )


def test_the_same_content_later_is_no_new_revision() -> None:
    incoming = generic_deal({**DATA, "changed_at": "2027-03-01T00:00:00Z"}, NOW)
    assert decide([stored_from(DATA, 2)], incoming).outcome == "unchanged"


def test_a_snapshot_already_kept_is_unchanged_wherever_it_sits_in_history() -> None:
    won = {**DATA, "changed_at": "2027-02-01T00:00:00Z"}
    lost = {**DATA, "status": "lost", "changed_at": "2027-02-09T00:00:00Z"}
    history = [stored_from(lost, 1), stored_from(won, 2)]
    assert decide(history, generic_deal(won, NOW)) == Decision("unchanged", 2)
    assert decide(history, generic_deal(lost, NOW)) == Decision("unchanged", 1)


def test_a_won_again_after_a_loss_is_a_revision_even_if_an_earlier_one_said_the_same() -> None:
    won = {**DATA, "changed_at": "2027-02-01T00:00:00Z"}
    lost = {**DATA, "status": "lost", "changed_at": "2027-02-09T00:00:00Z"}
    again = {**DATA, "changed_at": "2027-02-20T00:00:00Z"}
    history = [stored_from(won, 1), stored_from(lost, 2)]
    assert decide(history, generic_deal(again, NOW)) == Decision(
        "new_revision", 3, current=True, publish=True
    )


def test_a_rewin_arriving_before_the_cancellation_it_follows_is_kept_and_published_when_that_arrives() -> (
    None
):
    won = {**DATA, "changed_at": "2027-02-01T00:00:00Z"}
    cancelled = {**DATA, "status": "cancelled", "changed_at": "2027-02-09T00:00:00Z"}
    rewon = {**DATA, "changed_at": "2027-02-20T00:00:00Z"}
    history = [stored_from(won, 1)]
    kept = decide(history, generic_deal(rewon, NOW))
    # for now it says what the snapshot before it says: kept back, not published, but current
    assert kept == Decision("unchanged", 2, current=True, publish=False)
    history.append(Stored(2, generic_deal(rewon, NOW).changed_at, generic_deal(rewon, NOW).to_data(), False))
    arrives = decide(history, generic_deal(cancelled, NOW))
    assert arrives == Decision("new_revision", 3, current=False, publish=True, now_meaningful=(2,))


def test_any_arrival_order_keeps_the_same_history_and_current_snapshot() -> None:
    snapshots = [
        {**DATA, "changed_at": "2027-02-01T00:00:00Z"},
        {**DATA, "status": "cancelled", "changed_at": "2027-05-15T00:00:00Z"},
        {**DATA, "amount": "12.00", "changed_at": "2027-02-03T00:00:00Z"},
        {**DATA, "amount": "12.00", "changed_at": "2027-02-04T00:00:00Z"},  # redundant
    ]
    outcomes = set()
    for order in itertools.permutations(range(4)):
        history: list[Stored] = []
        current = None
        for i in order:
            incoming = generic_deal(snapshots[i], NOW)
            decision = decide(history, incoming)
            if decision.outcome == "new_revision":
                history.append(stored_from(snapshots[i], decision.revision))
                current = snapshots[i] if decision.current else current
        kept = sorted((s.document["changed_at"], s.document["status"], s.document["amount"]) for s in history)
        outcomes.add((tuple(kept), None if current is None else current["changed_at"]))
    # the redundant snapshot may be kept when it arrives before the one it repeats;
    # what it says never changes the history's meaning, and the current one is always the same
    assert {current for _, current in outcomes} == {"2027-05-15T00:00:00Z"}
    for history_kept, _ in outcomes:
        meaning = [k for i, k in enumerate(history_kept) if i == 0 or k[1:] != history_kept[i - 1][1:]]
        assert meaning == [
            ("2027-02-01T00:00:00Z", "won", "10.00"),
            ("2027-02-03T00:00:00Z", "won", "12.00"),
            ("2027-05-15T00:00:00Z", "cancelled", "10.00"),
        ]


def test_revision_is_ours_to_assign_and_native_sources_are_refused() -> None:
    with pytest.raises(FieldError) as info:
        generic_deal({**DATA, "revision": 9}, NOW)
    assert info.value.field == "data.revision"
    with pytest.raises(FieldError):
        generic_deal({**DATA, "source": "hubspot"}, NOW)


def test_changed_at_defaults_to_receipt_time_and_float_amount_is_refused() -> None:
    data = {k: v for k, v in DATA.items() if k != "changed_at"}
    assert generic_deal(data, NOW).changed_at == NOW
    with pytest.raises(ValueError, match="JSON number"):
        generic_deal({**DATA, "amount": 10.0}, NOW)
