"""The sweep options behave as in the C++ CLI: --jobs never changes results, --shard
splits seeds, fifo is accepted, the JSON traffic file works, --reorder-callbacks is flagged."""

import json


def _summary(result):
    return json.loads(result.stdout.splitlines()[-1])


def test_jobs_do_not_change_results(cli):
    args = ["run", "--app", "body_read_twice:app", "--scenario", "body_read_twice:scenario", "--seeds", "12",
            "--json"]
    one, two = cli(*args, "--jobs", "1"), cli(*args, "--jobs", "2")
    assert one.returncode == two.returncode != 0
    a, b = _summary(one), _summary(two)
    assert (a["failures"], a["seed"], a["trace_hash"]) == (b["failures"], b["seed"], b["trace_hash"])


def test_shards_split_the_seeds(cli):
    args = ["run", "--app", "body_read_twice:fixed_app", "--scenario", "body_read_twice:scenario", "--seeds", "10",
            "--json"]
    counts = [_summary(cli(*args, "--shard", f"{k}/3"))["seeds_run"] for k in (1, 2, 3)]
    assert counts == [4, 3, 3]


def test_fifo_strategy_and_data_file(cli, tmp_path):
    traffic = tmp_path / "traffic.json"
    traffic.write_text(json.dumps({"clients": [[{"method": "POST", "path": "/", "body": "hello",
                                                 "disconnect": "never"}]]}))
    buggy = cli("run", "--app", "body_read_twice:app", "--scenario", str(traffic), "--strategy", "fifo",
                "--seeds", "3")
    assert buggy.returncode == 3, buggy.output  # the endpoint waits forever for the consumed body
    fixed = cli("run", "--app", "body_read_twice:fixed_app", "--scenario", str(traffic), "--strategy", "fifo",
                "--seeds", "3")
    assert fixed.returncode == 0, fixed.output


def test_reorder_callbacks_failures_are_flagged(cli):
    result = cli("run", "--app", "body_read_twice:app", "--scenario", "body_read_twice:scenario", "--seeds", "5",
                 "--reorder-callbacks", "--fail-fast")
    assert result.returncode != 0, result.output
    assert "a schedule stock asyncio does not produce" in result.output
    assert "--reorder-callbacks" in result.output.split("reproduce:")[1]
