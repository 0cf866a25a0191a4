"""`provisio calc` as a process: the examples, every format, and bad input (exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[1] / "examples"
ARGS = [
    "--plan",
    str(EXAMPLES / "ae-2027.yaml"),
    "--deals",
    str(EXAMPLES / "deals.jsonl"),
    "--payees",
    str(EXAMPLES / "payees.csv"),
    "--quotas",
    str(EXAMPLES / "quotas.csv"),
    "--fx",
    str(EXAMPLES / "fx.csv"),
    "--as-of",
    "2027-04-30",
]


def calc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "provisio_calc.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_examples_as_json() -> None:
    done = calc(*ARGS, "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert list(data) == ["plan", "currency", "lines", "payouts", "exceptions"]
    assert (data["plan"], data["currency"]) == ("ae-2027", "USD")
    line = data["lines"][0]
    assert list(line)[:7] == ["payee", "component", "period", "value", "attainment", "earned", "cash"]
    assert set(data["payouts"][0]) == {
        "payee",
        "pay_period",
        "earned",
        "draw_topup",
        "recovered",
        "balance",
        "payable",
        "non_cash",
    }
    assert {e["kind"] for e in data["exceptions"]} >= {"missing_fx", "bad_split", "unknown_payee"}
    # decimals are plain strings without exponent or trailing zeros
    for row in data["lines"]:
        Decimal(row["earned"])
        assert "E" not in row["earned"] and not ("." in row["earned"] and row["earned"].endswith("0"))


def test_examples_as_table_and_csv() -> None:
    table = calc(*ARGS, "--explain")
    assert table.returncode == 0, table.stderr
    assert "LINES" in table.stdout and "PAYOUTS" in table.stdout and "band 1" in table.stdout
    csv_out = calc(*ARGS, "--format", "csv")
    assert csv_out.returncode == 0
    assert csv_out.stdout.splitlines()[0] == "payee,component,period,value,attainment,earned,cash"


def test_the_readme_output_is_current() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    table = calc(*ARGS).stdout
    assert table.strip() in readme


def write(tmp: Path, name: str, text: str) -> str:
    path = tmp / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("deals", "needle"),
    [
        ('{"source": "crm"}\n', "deals.jsonl:1: external_id"),
        (
            '\n{"source":"crm","external_id":"1","revision":1,"status":"won","amount":"12,5",'
            '"currency":"USD","close_date":"2027-01-02","owner":"a"}\n',
            "deals.jsonl:2: amount",
        ),
        ("not json\n", "deals.jsonl:1: not valid JSON"),
        (
            '{"source":"crm","external_id":"1","revision":1,"status":"won","amount":"1",'
            '"currency":"USD","close_date":"2027-01-02","owner":"a"}\n'
            '{"source":"crm","external_id":"1","revision":1,"status":"won","amount":"2",'
            '"currency":"USD","close_date":"2027-01-02","owner":"a"}\n',
            "deals.jsonl:2: amount: deal crm:1 revision 1 differs from line 1",
        ),
    ],
)
def test_bad_deals_exit_2_naming_file_line_field(tmp_path: Path, deals: str, needle: str) -> None:
    done = calc(
        "--plan",
        str(EXAMPLES / "ae-2027.yaml"),
        "--deals",
        write(tmp_path, "deals.jsonl", deals),
        "--as-of",
        "2027-04-30",
    )
    assert done.returncode == 2
    assert needle in done.stderr


def test_a_bad_plan_lists_every_problem_with_its_line(tmp_path: Path) -> None:
    text = (EXAMPLES / "ae-2027.yaml").read_text()
    text = text.replace('{to: 150, rate: "0.15"}', '{to: 90, rate: "0.15"}')
    text = text.replace('rate: "0.03"', "rate: three")
    plan = write(tmp_path, "plan.yaml", text)
    done = calc("--plan", plan, "--deals", str(EXAMPLES / "deals.jsonl"))
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert any("plan.yaml:18: components[0].tiers.bands[1].to" in ln for ln in lines), lines
    assert any("components[1].rate" in ln for ln in lines)


def test_bad_csv_names_file_line_field(tmp_path: Path) -> None:
    quotas = write(tmp_path, "quotas.csv", "payee,period,amount\nana,2027-Q1,100\nbob,2027-Q5,1\n")
    done = calc(*ARGS[:4], "--quotas", quotas)
    assert done.returncode == 2 and "quotas.csv:3: period" in done.stderr
    fx = write(tmp_path, "fx.csv", "date,from,to,rate\n2027-01-01,EUR,USD,abc\n")
    done = calc(*ARGS[:4], "--fx", fx)
    assert done.returncode == 2 and "fx.csv:2: rate" in done.stderr


def test_usage_errors_exit_2() -> None:
    assert calc("--deals", "x").returncode == 2
    assert calc(*ARGS, "--as-of", "tomorrow").returncode == 2


def test_activities_file(tmp_path: Path) -> None:
    plan = write(
        tmp_path,
        "plan.yaml",
        """
id: calls
currency: USD
period: month
effective: {from: 2027-01-01, to: 2027-12-31}
components:
  - {id: calls, kind: commission, measure: {metric: "activity:call"}, rate: 5}
""",
    )
    deals = write(tmp_path, "deals.jsonl", "")
    row = '{"source":"crm","external_id":"%s","kind":"call","owner":"ana","occurred_at":"%s"}\n'
    acts = write(tmp_path, "acts.jsonl", row % ("1", "2027-01-05T10:00:00Z") * 2 + row % ("2", "2027-02-01"))
    done = calc(
        "--plan", plan, "--deals", deals, "--activities", acts, "--as-of", "2027-03-01", "--format", "csv"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1:] == ["ana,calls,2027-01,1,,5,true", "ana,calls,2027-02,1,,5,true"]
    bad = write(tmp_path, "bad.jsonl", row % ("1", "2027-01-05") + row % ("1", "2027-01-06"))
    done = calc("--plan", plan, "--deals", deals, "--activities", bad)
    assert done.returncode == 2 and "bad.jsonl:2: occurred_at" in done.stderr


def test_the_provisio_dispatcher_runs_calc() -> None:
    # `make venv` installs the workspace's console script next to the interpreter.
    script = str(Path(sys.executable).parent / "provisio")
    done = subprocess.run(
        [script, "calc", *ARGS, "--format", "csv"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == calc(*ARGS, "--format", "csv").stdout
