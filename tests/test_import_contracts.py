"""The import contracts of pyproject.toml ([tool.importlinter]) hold: a wrong import fails here."""

from pathlib import Path

from importlinter.cli import lint_imports

REPO = Path(__file__).resolve().parents[1]


def test_imports_flow_one_way(monkeypatch):
    monkeypatch.chdir(REPO)
    assert lint_imports(config_filename=str(REPO / "pyproject.toml"), no_cache=True) == 0


def test_no_module_imports_an_app_package_dynamically():
    """import-linter sees ``import`` statements only; ``importlib`` would hide an upward import."""
    offenders = [
        str(path.relative_to(REPO))
        for package in ("bucketlens", "resources", "assets", "sensors", "pipelines")
        for path in (REPO / package).rglob("*.py")
        if "importlib.import_module" in path.read_text()
    ]
    assert offenders == []
