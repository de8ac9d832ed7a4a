"""write_result for real: parallel writers into one folder, unique names, no partial or clobbered files."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from runners.schema import Result, ResultFileError, Status, read_result
from runners.writing import new_run_id, result_dir, write_result

VALID = Path(__file__).resolve().parent / "data" / "valid"
PROCESSES = 8
PER_PROCESS = 25


def _sample() -> Result:
    return read_result(VALID / "inference.yaml")


def _with_run(result: Result, **update) -> Result:
    return result.model_copy(update={"run": result.run.model_copy(update=update)})


def _fresh_id(result: Result) -> str:
    run = result.run
    return new_run_id(run.benchmark, run.mode.value, run.framework, run.precision, run.started_utc)


def _unique_ids(count: int) -> list[str]:
    sample = _sample()
    ids: list[str] = []
    while len(ids) < count:  # the random suffix makes a repeat very unlikely; never rely on it
        run_id = _fresh_id(sample)
        if run_id not in ids:
            ids.append(run_id)
    return ids


def _writer(root: str, run_ids: list[str], barrier) -> None:
    """One runner process: wait for the others, then write one result per id."""
    sample = _sample()
    results = [_with_run(sample, id=run_id) for run_id in run_ids]
    barrier.wait(timeout=30)
    for result in results:
        write_result(result, root)


def _collider(root: str, run_id: str, duration_s: float, barrier, outcomes) -> None:
    """Write one result under a run id every process shares; report what happened."""
    result = _with_run(_sample(), id=run_id, duration_s=duration_s)
    barrier.wait(timeout=30)
    try:
        write_result(result, root)
    except FileExistsError:
        outcomes.put(("exists", duration_s))
    else:
        outcomes.put(("written", duration_s))


def _run_processes(target, args_per_process: list[tuple]) -> None:
    ctx = multiprocessing.get_context()
    procs = [ctx.Process(target=target, args=args) for args in args_per_process]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=60)
    assert [proc.exitcode for proc in procs] == [0] * len(procs)


def test_parallel_writers_leave_every_file_whole(tmp_path: Path):
    root = tmp_path / "results"
    ids = _unique_ids(PROCESSES * PER_PROCESS)
    barrier = multiprocessing.get_context().Barrier(PROCESSES)
    chunks = [ids[i * PER_PROCESS : (i + 1) * PER_PROCESS] for i in range(PROCESSES)]
    _run_processes(_writer, [(str(root), chunk, barrier) for chunk in chunks])

    folder = result_dir(root, _sample())
    files = sorted(p for p in root.rglob("*") if p.is_file())
    assert len(files) == PROCESSES * PER_PROCESS
    assert {p.parent for p in files} == {folder}  # all raced in one folder
    assert not [p for p in root.rglob(".tmp-*")]
    read_back = {path.name: read_result(path) for path in files}
    assert {result.run.id for result in read_back.values()} == set(ids)
    assert all(name == f"{result.run.id}.yaml" for name, result in read_back.items())
    sample = _sample()
    assert all(result.model_copy(update={"run": sample.run}) == sample for result in read_back.values())


def test_same_run_id_twice_raises_and_keeps_the_first(tmp_path: Path):
    first = _with_run(_sample(), id=_fresh_id(_sample()))
    path = write_result(first, tmp_path)
    before = path.read_bytes()
    second = _with_run(first, duration_s=first.run.duration_s + 1)
    with pytest.raises(FileExistsError):
        write_result(second, tmp_path)
    assert path.read_bytes() == before
    assert read_result(path) == first
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no leftover temp file


def test_parallel_collision_has_one_winner(tmp_path: Path):
    root = tmp_path / "results"
    run_id = _fresh_id(_sample())
    ctx = multiprocessing.get_context()
    barrier, outcomes = ctx.Barrier(PROCESSES), ctx.Queue()
    _run_processes(_collider, [(str(root), run_id, 100.0 + i, barrier, outcomes) for i in range(PROCESSES)])
    got = [outcomes.get(timeout=10) for _ in range(PROCESSES)]
    winners = [duration for what, duration in got if what == "written"]
    assert len(winners) == 1
    assert sorted(what for what, _ in got) == ["exists"] * (PROCESSES - 1) + ["written"]
    files = [p for p in root.rglob("*") if p.is_file()]
    assert [p.name for p in files] == [f"{run_id}.yaml"]
    assert read_result(files[0]).run.duration_s == winners[0]  # the winner's content, whole


def test_invalid_result_is_refused_before_it_gets_a_name(tmp_path: Path):
    """model_copy skips validation; write_result's read-back catches it and leaves nothing behind."""
    bad = _with_run(_sample(), id=_fresh_id(_sample()), status=Status.failed, error=None)
    with pytest.raises(ResultFileError) as info:
        write_result(bad, tmp_path)
    assert [(p.field, p.message) for p in info.value.problems] == [("run.error", "required when status is 'failed'")]
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_a_recorded_local_path_does_not_name_the_home_folder(tmp_path, monkeypatch):
    from runners.writing import recorded_path

    monkeypatch.setenv("HOME", str(tmp_path / "alice"))
    log = tmp_path / "alice" / ".cache" / "benchsite" / "logs" / "run.log"
    assert recorded_path(log) == "~/.cache/benchsite/logs/run.log"
    assert Path(recorded_path(log)).expanduser() == log
    assert recorded_path(tmp_path / "elsewhere.log") == (tmp_path / "elsewhere.log").as_posix()


def test_a_v1_result_is_written_again_as_the_current_schema_version(tmp_path: Path):
    sample = _sample()  # tests/data/valid/inference.yaml says schema_version: 1
    path = write_result(_with_run(sample, id=_fresh_id(sample)), tmp_path)
    assert path.read_text(encoding="utf-8").startswith("schema_version: 3\n")
