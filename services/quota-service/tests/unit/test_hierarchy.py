from quota_service.domain.payees import manager_cycle
from quota_service.domain.periods import is_period


def test_manager_cycle_detects_loops_through_the_chain() -> None:
    managers = {"ceo": None, "vp": "ceo", "rep": "vp"}
    assert manager_cycle("ceo", "rep", managers)
    assert manager_cycle("vp", "vp", managers)
    assert not manager_cycle("new", "rep", managers)


def test_periods() -> None:
    assert all(is_period(p) for p in ["2027", "2027-H2", "2027-Q4", "2027-12"])
    assert not any(is_period(p) for p in ["2027-Q5", "2027-13", "27", "2027-H3"])
