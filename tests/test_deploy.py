"""deploy/router.service passes `systemd-analyze verify`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_unit_file_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: scripts/setup.sh installs the systemd package"
    unit = (REPO / "deploy" / "router.service").read_text()
    # verify checks that ExecStart exists; point it at a binary that exists here.
    unit = unit.replace("/opt/router/.venv/bin/router", shutil.which("true") or "/bin/true")
    path = tmp_path / "router.service"
    path.write_text(unit)
    proc = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True, timeout=60)
    output = proc.stdout + proc.stderr
    problems = [line for line in output.splitlines() if "router.service" in line and "Documentation" not in line]
    print(output)
    assert proc.returncode == 0 or not problems, output
    assert not problems, output


def test_unit_runs_unprivileged_and_restarts() -> None:
    unit = (REPO / "deploy" / "router.service").read_text()
    assert "User=router" in unit and "Restart=on-failure" in unit and "LoadCredential=" in unit
    assert "KillSignal=SIGTERM" in unit and "ExecReload=/bin/kill -HUP $MAINPID" in unit
