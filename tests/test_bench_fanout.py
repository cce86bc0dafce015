"""The benchmark's options for issue 20's targets 2 and 4 (bench/__main__.py): the fan-out is
measured at 10,000 unless asked otherwise, and the worker-load phase exists and is run."""

from bench.__main__ import PHASES, Run, parse_args


def test_the_fan_out_is_ten_thousand_by_default_and_sized_by_its_option():
    assert parse_args([]).fanout == 10_000
    assert parse_args(["--fanout-size", "2500"]).fanout == 2500
    assert parse_args(["--fanout", "300"]).fanout == 300  # the older spelling still works
    assert parse_args(["--quick"]).fanout == 200  # a smoke test stays short


def test_the_worker_load_phase_is_chosen_by_its_name_and_has_its_clients():
    args = parse_args(["--phases", "worker-load", "memory"])
    assert args.phases == ["worker-load", "memory"]
    assert args.load_clients == [4, 8]
    assert "worker-load" in PHASES
    assert callable(Run.worker_load)  # run() calls the phase by its name, "-" read as "_"
