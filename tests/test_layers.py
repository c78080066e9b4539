"""The layer rule of ARCHITECTURE.md: `optimizer/` never imports engines or I/O clients."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
FORBIDDEN = ("kfp", "boto3", "botocore", "mlflow", "kubernetes")


def _imported_modules(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_optimizer_sources_import_no_engine_or_io_client() -> None:
    offenders = {
        str(p.relative_to(ROOT)): sorted(_imported_modules(p) & set(FORBIDDEN))
        for p in (ROOT / "optimizer").rglob("*.py")
    }
    offenders = {k: v for k, v in offenders.items() if v}
    assert offenders == {}


def test_optimizer_sources_read_no_environment() -> None:
    users = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "optimizer").rglob("*.py")
        if "os.environ" in p.read_text() or "getenv" in p.read_text()
    ]
    assert users == []


def test_importing_optimizer_loads_no_engine_module() -> None:
    code = (
        "import sys, importlib, pkgutil, optimizer\n"
        "for m in pkgutil.walk_packages(optimizer.__path__, 'optimizer.'):\n"
        "    importlib.import_module(m.name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == ""
