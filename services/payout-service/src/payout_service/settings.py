"""payout-service settings (PROVISIO_* environment variables, one process per service)."""

from __future__ import annotations

from pydantic import Field, field_validator

from payout_service.domain.payroll import COLUMNS
from payout_service.domain.plans import EARNING_CODES
from provisio_common.settings import ServiceSettings


class PayoutSettings(ServiceSettings):
    service_name: str = "payout-service"
    database: str = "provisio_payout"
    http_port: int = 8104
    # The payroll CSV in one payroll system's terms, as JSON objects, e.g.
    # PROVISIO_PAYROLL_CSV_COLUMNS='{"employee_id": "EmployeeNumber", "amount": "Amount"}'
    # PROVISIO_PAYROLL_EARNING_CODES='{"commission": "COMM", "non_cash_award": "BIK"}'
    payroll_csv_columns: dict[str, str] = Field(default_factory=dict)
    payroll_earning_codes: dict[str, str] = Field(default_factory=dict)
    # General-ledger account codes of the commission-expense journal (ASC 340-40), e.g.
    # PROVISIO_ACCOUNT_DEFERRED_COMMISSIONS=1450; the defaults are the accounts' names.
    account_deferred_commissions: str = Field(default="deferred_commissions", min_length=1)
    account_commissions_payable: str = Field(default="commissions_payable", min_length=1)
    account_commission_expense: str = Field(default="commission_expense", min_length=1)

    @field_validator("payroll_csv_columns")
    @classmethod
    def _known_columns(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(COLUMNS))
        if unknown:
            raise ValueError(f"unknown column(s) {', '.join(unknown)}; the columns are {', '.join(COLUMNS)}")
        if len({value.get(c, c) for c in COLUMNS}) != len(COLUMNS):
            raise ValueError("two columns would have the same name")
        return value

    @field_validator("payroll_earning_codes")
    @classmethod
    def _known_codes(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(EARNING_CODES))
        if unknown:
            raise ValueError(
                f"unknown earning code(s) {', '.join(unknown)}; the codes are {', '.join(EARNING_CODES)}"
            )
        return value
