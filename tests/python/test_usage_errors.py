"""Bad input: one clear line and exit 2; real I/O from the loop is an escape report (exit 4)."""

import pytest

CASES = [
    (["--app", "no_such_module:app"], "cannot import module 'no_such_module'"),
    (["--app", "body_read_twice:nope"], "has no attribute 'nope'"),
    (["--app", "body_read_twice:routes"], "not callable"),
    (["--app", "bad_apps:app", "--scenario", "bad_apps:scenario"], "raised RuntimeError: boom at import"),
]


@pytest.mark.parametrize("args,message", CASES)
def test_bad_app_specs(cli, tmp_path, args, message):
    if args[1].startswith("bad_apps"):
        (tmp_path / "bad_apps.py").write_text("raise RuntimeError('boom at import')\n")
        result = cli("run", *args, cwd=tmp_path)
    else:
        result = cli("run", *args, "--scenario", "body_read_twice:scenario")
    assert result.returncode == 2, result.output
    assert message in result.output
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_scenario_raising(cli, tmp_path):
    (tmp_path / "raising.py").write_text("def scenario(s):\n    raise ValueError('no traffic today')\n")
    result = cli("run", "--app", "body_read_twice:app", "--scenario", "raising:scenario", cwd=tmp_path)
    assert result.returncode == 2 and "the scenario raised ValueError: no traffic today" in result.output


def test_unknown_invariant(cli):
    result = cli("run", "--app", "body_read_twice:app", "--scenario", "body_read_twice:scenario",
                 "--invariants", "start-once,no-such-thing")
    assert result.returncode == 2 and "unknown invariant id 'no-such-thing'" in result.output


def test_sync_endpoint_runs_on_a_thread(cli):
    result = cli("run", "--app", "sync_endpoint:app", "--scenario", "sync_endpoint:scenario", "--seeds", "3",
                 timeout=120)
    assert result.returncode == 0, result.output


def test_real_io_escapes_the_simulation(cli):
    result = cli("run", "--app", "sync_endpoint:io_app", "--scenario", "sync_endpoint:scenario", "--seeds", "1",
                 timeout=120)
    assert result.returncode == 4, result.output
    assert "escapes the simulation in the event loop's thread: loop.create_connection()" in result.output
    assert "in fetch" in result.output
