"""The benchmark scripts run end to end in their --quick mode and write their tables."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.slow
@pytest.mark.parametrize("script, table", [
    ("quality.py", "quality-quick"),
    ("speed.py", "speed-quick"),
    ("inpainting.py", "inpainting-quick"),
    ("vit.py", "vit-quick"),
])
def test_benchmark_quick_mode(script, table, mnist_dir, tmp_path):
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick", "--threads", "1",
         "--mnist-dir", str(mnist_dir), "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    text = (tmp_path / f"{table}.md").read_text()
    assert text.count("|") > 20
    payload = json.loads((tmp_path / f"{table}.json").read_text())
    assert payload["machine"]["torch_threads"] == 1
