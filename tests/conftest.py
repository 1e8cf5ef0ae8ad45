"""Test configuration: offline, no analytics, deterministic."""

import os

# Set before anything imports huggingface_hub or gradio.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

import sadt  # noqa: E402, F401  (first sadt import: loads the fast BLAS before mlx.core)

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The shared real data sets; tests that need them skip when absent (user clones)."""
    if not (SHARED_DATA / "ETTh1.csv").exists():
        pytest.skip("../shared/data is not present in this checkout")
    return SHARED_DATA.resolve()


SLOW_MODULES = ("test_browser", "test_distributed")  # Chromium; mlx.launch processes


def pytest_collection_modifyitems(config, items):
    """Mark what starts real servers, browsers or process groups as ``slow``:
    ``pytest -m "not slow"`` is the quick loop, CI runs everything."""
    for item in items:
        if item.module.__name__ in SLOW_MODULES or "server" in item.fixturenames:
            item.add_marker(pytest.mark.slow)
