"""README stays true: its Python snippets run, and its error table is the code's table."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipecat_realtime_openai.core.errors import error_policy_markdown

README = Path(__file__).resolve().parents[1] / "README.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_readme_has_snippets():
    assert len(SNIPPETS) >= 4


@pytest.mark.parametrize("index", range(len(SNIPPETS)))
def test_snippet_runs(index, tmp_path):
    script = tmp_path / f"snippet_{index}.py"
    script.write_text(SNIPPETS[index])
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_error_table_matches_code():
    text = README.read_text()
    table = text.split("<!-- error-policy:start -->\n")[1].split("<!-- error-policy:end -->")[0]
    assert table == error_policy_markdown()
