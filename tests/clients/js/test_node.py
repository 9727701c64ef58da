"""Runs the JavaScript client's tests (``tests/clients/js/*.test.mjs``) under Node's built-in
test runner, against vectors the Python core computes here (``tests/clients/vectors.py``).

Without Node.js the test skips (fails in CI).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.clients.vectors import write_vectors
from tests.conftest import skip_or_fail

pytestmark = pytest.mark.node

HERE = Path(__file__).parent
SEEDS = (1, 2)


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        skip_or_fail("Node.js (>= 20, for `node --test`) is needed to test the JS client")
    return node


@pytest.mark.parametrize("seed", SEEDS)
def test_js_client_matches_python_core(seed: int, tmp_path: Path) -> None:
    node = _node()
    vectors = write_vectors(tmp_path / "vectors.json", seed=seed)
    files = sorted(str(p) for p in HERE.glob("*.test.mjs"))
    assert files, f"no *.test.mjs files in {HERE}"
    result = subprocess.run(
        [node, "--test", "--test-reporter=tap", *files],
        env={**os.environ, "COEDIT_VECTORS": str(vectors)},
        capture_output=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    counts = dict(re.findall(r"^# (tests|pass|fail) (\d+)$", output, re.MULTILINE))
    assert result.returncode == 0 and counts.get("fail") == "0", f"node --test failed:\n{output}"
    assert int(counts.get("pass", "0")) >= 20, f"node ran too few tests:\n{output}"
