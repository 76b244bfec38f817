"""Versioned model artifacts under $ESTORE_DATA_DIR/ml/<model>/<version>/ and the pointer to the
promoted version (current.json)."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import joblib

from dagster_project.lib.settings import PROJECT_ROOT


def model_root(data_dir: Path, model_name: str) -> Path:
    return Path(data_dir) / "ml" / model_name


def code_version() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True, timeout=10,
        )  # fmt: skip
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def new_version(data_hash: str) -> str:
    return f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{data_hash[:8]}"


def save(data_dir: Path, model_name: str, version: str, model, metadata: dict) -> Path:
    folder = model_root(data_dir, model_name) / version
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, folder / "model.joblib")
    (folder / "metadata.json").write_text(json.dumps(metadata, indent=2, default=str))
    return folder


def promote(data_dir: Path, model_name: str, version: str) -> None:
    pointer = model_root(data_dir, model_name) / "current.json"
    tmp = pointer.with_suffix(".tmp")
    tmp.write_text(json.dumps({"version": version}))
    tmp.replace(pointer)  # atomic: readers see the old or the new version


def current_version(data_dir: Path, model_name: str) -> str | None:
    pointer = model_root(data_dir, model_name) / "current.json"
    return json.loads(pointer.read_text())["version"] if pointer.exists() else None


def load_metadata(data_dir: Path, model_name: str, version: str) -> dict:
    """A version's metadata alone: unpickling the model imports scikit-learn (~2 s), which the
    checks and the evaluation table do not need."""
    return json.loads((model_root(data_dir, model_name) / version / "metadata.json").read_text())


def load(data_dir: Path, model_name: str, version: str):
    folder = model_root(data_dir, model_name) / version
    return joblib.load(folder / "model.joblib"), load_metadata(data_dir, model_name, version)
