"""runtime.preflight: the planned restart's check of the process it would become, and the
host checks of ``--check`` (issue 10 findings 1 and 3)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from gracebgp.config import parse
from gracebgp.runtime.preflight import host_problems, import_problems, preflight

PY = sys.executable


def run(argv: list[str], timeout: float = 20.0) -> str:
    return asyncio.run(preflight(argv, timeout))


def test_a_passing_check_is_empty_and_gets_the_flag() -> None:
    assert run([PY, "-c", "import sys; sys.exit(0 if sys.argv[1:] == ['--preflight'] else 3)"]) == ""


def test_a_failing_check_is_one_line() -> None:
    why = run([PY, "-c", "import sys; print('a.toml:3: x: bad', file=sys.stderr); "
                          "print('a.toml:9: y: worse', file=sys.stderr); sys.exit(1)"])
    assert why == "a.toml:3: x: bad; a.toml:9: y: worse"


def test_new_code_that_breaks_is_named_by_its_last_line() -> None:
    why = run([PY, "-c", "import gracebgp.nonexistent_module_for_the_test"])
    assert why.startswith("the new code fails: ModuleNotFoundError: "), why
    assert "\n" not in why


def test_a_hanging_check_is_bounded() -> None:
    why = run([PY, "-c", "import time; time.sleep(30)"], timeout=0.5)
    assert why == "the new code did not finish its check within 0.5 s"


def test_an_interpreter_that_is_gone() -> None:
    assert run(["/nonexistent/python3"]).startswith("cannot run /nonexistent/python3: ")


def test_host_problems_name_file_line_and_key(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("")
    text = (f'[global.config]\nas = 65001\nrouter-id = "192.0.2.1"\n[gracebgp]\n'
            f'state-dir = "{tmp_path}/taken/state"\napi-socket = "{tmp_path}/ok/api.sock"\n')
    conf = tmp_path / "a.toml"
    conf.write_text(text)
    problems = host_problems(parse(text, str(conf)), conf)
    assert [(p.line, p.key) for p in problems] == [(5, "gracebgp.state-dir")]
    assert f"{tmp_path}/taken is not a directory" in problems[0].message


def test_the_daemon_needs_import() -> None:
    assert import_problems() == []
