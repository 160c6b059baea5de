"""deploy/router.service and the per-mailbox template deploy/router@.service pass `systemd-analyze verify`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _verify(unit_text: str, name: str, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: scripts/setup.sh installs the systemd package"
    # verify checks that ExecStart exists; point it at a binary that exists here.
    unit = unit_text.replace("/opt/router/.venv/bin/router", shutil.which("true") or "/bin/true")
    path = tmp_path / name
    path.write_text(unit)
    proc = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True, timeout=60)
    output = proc.stdout + proc.stderr
    stem = name.split("@")[0]
    problems = [line for line in output.splitlines() if stem in line and "Documentation" not in line]
    print(output)
    assert proc.returncode == 0 or not problems, output
    assert not problems, output


def test_unit_file_verifies(tmp_path: Path) -> None:
    _verify((REPO / "deploy" / "router.service").read_text(), "router.service", tmp_path)


def test_template_unit_verifies_as_an_instance(tmp_path: Path) -> None:
    """A template is verified through an instance of it (systemd-analyze cannot verify a bare template)."""
    text = (REPO / "deploy" / "router@.service").read_text()
    # The instance must be linked from the template file, as systemctl would: router@kyc.service -> router@.service.
    (tmp_path / "router@.service").write_text(text.replace("/opt/router/.venv/bin/router", shutil.which("true") or "/bin/true"))
    instance = tmp_path / "router@kyc.service"
    instance.symlink_to(tmp_path / "router@.service")
    analyze = shutil.which("systemd-analyze")
    assert analyze
    proc = subprocess.run([analyze, "verify", str(instance)], capture_output=True, text=True, timeout=60)
    output = proc.stdout + proc.stderr
    problems = [line for line in output.splitlines() if "router@" in line and "Documentation" not in line]
    print(output)
    assert not problems, output


@pytest.mark.parametrize("name", ["router.service", "router@.service"])
def test_unit_runs_unprivileged_and_restarts(name: str) -> None:
    unit = (REPO / "deploy" / name).read_text()
    assert "User=router" in unit and "Restart=on-failure" in unit and "LoadCredential=" in unit
    assert "KillSignal=SIGTERM" in unit and "ExecReload=/bin/kill -HUP $MAINPID" in unit
    # ProtectHome makes ~/.cache read-only: the unpacked language tables go to the service's cache directory.
    assert "ProtectHome=yes" in unit and "CacheDirectory=router" in unit and "Environment=ROUTER_CACHE_DIR=/var/cache/router" in unit


def test_template_runs_one_mailbox_config_per_instance() -> None:
    unit = (REPO / "deploy" / "router@.service").read_text()
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert "--config /etc/router/%i.toml" in exec_start and exec_start.endswith(" run")
    assert "StateDirectory=router/%i" in unit  # instances never share a state file or lock
