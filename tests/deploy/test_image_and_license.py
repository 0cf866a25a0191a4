"""The container image (Dockerfile, .dockerignore) and the licence (LICENSE, pyprojects).

No Docker engine runs the tests, so the Dockerfile is parsed (dockerfile-parse) and checked
for what issue 11 asks: multi-stage, uv from the lock file, non-root, no build tools in the
final stage, a HEALTHCHECK on /healthz, one image whose command picks the service.
"""

from __future__ import annotations

import tomllib

from dockerfile_parse import DockerfileParser

from .conftest import ROOT

SERVICES = ("deal-ingest", "calc-engine", "quota-service", "payout-service")


def _stages() -> list[list[dict[str, str]]]:
    parser = DockerfileParser(path=str(ROOT / "Dockerfile"))
    stages: list[list[dict[str, str]]] = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def test_dockerfile_is_multi_stage_with_uv_from_the_lock_file() -> None:
    build, _ = _stages()
    build_runs = " ".join(i["value"] for i in build if i["instruction"] == "RUN")
    assert "uv sync --frozen --no-dev" in build_runs
    assert "uv==" in build_runs  # pinned, the Makefile's version
    makefile = (ROOT / "Makefile").read_text()
    version = next(
        line.split(":=")[1].strip() for line in makefile.splitlines() if line.startswith("UV_VERSION")
    )
    assert f'"uv=={version}"' in build_runs
    copies = [i["value"] for i in build if i["instruction"] == "COPY"]
    assert "pyproject.toml uv.lock ./" in copies


def test_final_stage_runs_as_non_root_without_build_tools_with_a_healthcheck() -> None:
    _, final = _stages()
    by_kind: dict[str, list[str]] = {}
    for instruction in final:
        by_kind.setdefault(instruction["instruction"], []).append(instruction["value"])
    assert by_kind["USER"] == ["10001:10001"]
    runs = " ".join(by_kind.get("RUN", []))
    for tool in ("pip install", "uv ", "apt-get", "gcc", "build-essential"):
        assert tool not in runs, f"final stage runs {tool}"
    assert by_kind["COPY"] == ["--from=build /app /app"]
    assert "/healthz" in by_kind["HEALTHCHECK"][0]
    assert by_kind["ENTRYPOINT"] == ['["provisio", "serve"]']
    assert by_kind["CMD"][0].strip('[]"') in SERVICES


def test_dockerignore_keeps_tests_state_and_virtualenvs_out() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    rules = [line for line in lines if line and not line.startswith("#")]
    assert rules[0] == "*"  # everything out, then back in only what the build needs
    assert set(rules) >= {"!pyproject.toml", "!uv.lock", "!libs/", "!services/", "**/tests/"}
    assert not {".venv", ".provisio", "deploy"} & {rule.strip("!/") for rule in rules if rule.startswith("!")}


def test_license_is_apache_2_and_every_pyproject_says_so() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    pyprojects = [
        ROOT / "pyproject.toml",
        *ROOT.glob("libs/*/pyproject.toml"),
        *ROOT.glob("services/*/pyproject.toml"),
    ]
    assert len(pyprojects) == 8
    for path in pyprojects:
        project = tomllib.loads(path.read_text())["project"]
        assert project.get("license") == "Apache-2.0", path
