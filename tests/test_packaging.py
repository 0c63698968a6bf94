"""tlwb installs anywhere: the wheel carries every package, the presets and their demo data, and
an installed (not editable) tlwb finds its presets from an unrelated directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return next(out.glob("tlwb-*.whl"))


def source_packages() -> set[str]:
    """Every package of the source tree, as the wheel must name it."""
    found = {"tlwb_presets"}
    for top in ("workbench", "screens"):
        for init in (ROOT / top).rglob("__init__.py"):
            found.add(".".join(init.parent.relative_to(ROOT).parts))
    return found


def test_the_wheel_ships_every_package_the_presets_and_their_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped_packages = {str(Path(name).parent).replace("/", ".") for name in names if name.endswith("__init__.py")}
    assert source_packages() <= shipped_packages, "add the missing packages to [tool.setuptools] packages"
    for preset in (ROOT / "presets").glob("*.toml"):
        assert f"tlwb_presets/{preset.name}" in names
    for data in (ROOT / "presets" / "data").iterdir():
        assert f"tlwb_presets/data/{data.name}" in names
    assert {"screens/app.tcss", "screens/setup.tcss"} <= names
    assert not any(name.startswith(("tests/", "benchmarks/", "runs/")) for name in names)


def test_an_installed_wheel_finds_its_presets_and_trains_the_quickstart_from_anywhere(wheel: Path, tmp_path: Path) -> None:
    """A fresh venv holding only the wheel (its dependencies come from this venv's site-packages
    through a .pth file, without this checkout's editable install), run from an empty folder."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
                               capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr[-3000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TLWB_PRESETS_DIR")}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TLWB_PRESETS_DIR=str(tmp_path / "no-user-presets"))
    tlwb = str(venv / "bin" / "tlwb")

    where = subprocess.run([str(python), "-c", "import workbench, tlwb_presets; print(workbench.__file__, tlwb_presets.__file__)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True)
    assert where.returncode == 0 and str(ROOT) not in where.stdout, where.stdout + where.stderr

    listed = subprocess.run([tlwb, "presets"], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0 and "quickstart" in listed.stdout, listed.stdout + listed.stderr

    trained = subprocess.run(
        [tlwb, "train", "quickstart", "--json", "--runs-dir", str(elsewhere / "runs"),
         "--set", "training.max_steps=2", "--set", "training.eval_strategy=no", "--set", "training.batch_size=4"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600,
    )
    assert trained.returncode == 0, trained.stdout[-3000:] + trained.stderr[-3000:]
    result = json.loads(trained.stdout.strip().splitlines()[-1])
    run = Path(result["path"])
    assert (run / "adapter" / ".complete").is_file(), result
    config = (run / "config.toml").read_text("utf-8")
    assert "quickstart_reviews.csv" in config and str(ROOT) not in config
