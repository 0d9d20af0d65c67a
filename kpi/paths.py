"""Where the project's files live, found relative to the package (not the working directory),
and how its YAML data files are read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"
PLANS_DIR = DATA_DIR / "plans"
SAMPLE_DIR = DATA_DIR / "sample"
DEFAULT_DB_PATH = DATA_DIR / "kpi.sqlite3"

# libyaml's safe loader when PyYAML was built with it: the reference files load 10× faster.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path) -> Any:
    """A data file parsed safely (no Python objects); raises yaml.YAMLError when invalid."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)  # noqa: S506
