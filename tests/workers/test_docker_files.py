"""docker/: no Docker engine runs here, so the files are parsed and their commands resolved."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
import yaml

from hpsearch.cli import _register_commands, cli

DOCKER = Path(__file__).resolve().parents[2] / "docker"
ROOT = DOCKER.parent


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def resolve(argv: list[str]) -> tuple[click.Command, click.Context]:
    """Parse ``hpsearch ARGV`` as the console script would, without running it."""
    _register_commands()
    group_ctx = cli.make_context("hpsearch", list(argv), resilient_parsing=True)
    name, rest = argv[0], list(argv[1:])
    command = cli.get_command(group_ctx, name)
    assert command is not None, f"no hpsearch command {name!r}"
    # Strict parse: unknown options or missing arguments raise click.UsageError here.
    return command, command.make_context(name, list(rest), parent=group_ctx)


def test_every_hpsearch_service_runs_a_real_hpsearch_command(compose):
    services = compose["services"]
    expected = {"create": "create", "worker": "worker", "dashboard": "dashboard"}
    for service, command_name in expected.items():
        command, _ctx = resolve(services[service]["command"])
        assert command.name == command_name
    assert resolve(services["worker"]["command"])[1].params["study_name"] == "digits-quick"
    spec_path = resolve(services["create"]["command"])[1].params["spec_path"]
    assert (ROOT / spec_path).is_file()  # the image copies studies/ into its workdir
    with pytest.raises(click.UsageError):
        resolve(["worker", "--no-such-option"])  # the check does catch bad commands


def test_compose_wires_postgres_create_workers_and_dashboard(compose):
    services = compose["services"]
    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    volume = postgres["volumes"][0].split(":")[0]
    assert volume in compose["volumes"]

    create = services["create"]
    assert create["restart"] == "no"  # one-shot
    assert create["depends_on"]["postgres"]["condition"] == "service_healthy"

    worker = services["worker"]
    # Scalable with --scale worker=N: no fixed container name, no published ports.
    assert "container_name" not in worker and "ports" not in worker
    assert worker["depends_on"]["create"]["condition"] == "service_completed_successfully"

    dashboard = services["dashboard"]
    assert all(port.startswith("127.0.0.1:") for port in dashboard["ports"])

    for name in ("create", "worker", "dashboard"):
        url = services[name]["environment"]["HPSEARCH_STORAGE"]
        assert url.startswith("postgresql+psycopg://") and url.endswith("@postgres:5432/hpsearch")


def test_dockerfile_is_slim_non_root_with_the_postgres_and_dashboard_extras():
    text = (DOCKER / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.1[1-9]-slim", text, re.M)
    assert re.search(r'pip install "\.\[postgres,dashboard\]"', text)
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and user[-1] not in ("root", "0")
    assert 'ENTRYPOINT ["hpsearch"]' in text
