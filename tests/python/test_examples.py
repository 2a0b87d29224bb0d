"""Done-when 2, 3 and 4 of issue 13 on Debian's real Starlette 0.26.1: each bug is found
by the simulator (never stated), and the fixed variant passes a long sweep."""

import json

import pytest

from conftest import reproduce_line


def test_body_read_twice_847_is_found(cli):
    result = cli("run", "--app", "body_read_twice:app", "--scenario", "body_read_twice:scenario",
                 "--seeds", "100", "--fail-fast")
    assert result.returncode in (1, 3, 4), result.output
    assert "FAILED" in result.output
    assert reproduce_line(result.output)


def test_body_read_twice_pure_asgi_passes_1000_seeds(cli):
    result = cli("run", "--app", "body_read_twice:fixed_app", "--scenario", "body_read_twice:scenario",
                 "--seeds", "1000", "--jobs", "2", "--json")
    assert result.returncode == 0, result.output
    summary = json.loads(result.stdout.splitlines()[-1])
    assert summary["seeds_run"] == 1000 and summary["failures"] == 0


def test_completion_delayed_1940_is_found(cli):
    result = cli("run", "--app", "completion_delayed:app", "--scenario", "completion_delayed:scenario",
                 "--seeds", "100", "--fail-fast", "--json")
    assert result.returncode == 1, result.output
    summary = json.loads(result.stdout.splitlines()[-1])
    assert summary["invariant"] == "response-not-delayed", result.output


def test_completion_without_middleware_passes_1000_seeds(cli):
    result = cli("run", "--app", "completion_delayed:fixed_app", "--scenario", "completion_delayed:scenario",
                 "--seeds", "1000", "--jobs", "2")
    assert result.returncode == 0, result.output


@pytest.mark.parametrize("app,invariant,layer", [
    ("footer_app", "content-length", "AppendFooter"),  # a stale Content-Length after rewriting the body
    ("double_end_app", "body-after-start", "DoubleEnd"),  # a body sent after more_body: false
])
def test_buggy_pure_asgi_middleware_is_blamed_by_class_name(cli, app, invariant, layer):
    result = cli("run", "--app", f"buggy_middleware:{app}", "--scenario", "buggy_middleware:scenario",
                 "--seeds", "5", "--json")
    assert result.returncode == 1, result.output
    summary = json.loads(result.stdout.splitlines()[-1])
    assert summary["invariant"] == invariant
    assert summary["layer"] == layer, result.output


def test_good_app_passes(cli):
    result = cli("run", "--app", "buggy_middleware:good_app", "--scenario", "buggy_middleware:scenario",
                 "--seeds", "50")
    assert result.returncode == 0, result.output
