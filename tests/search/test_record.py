"""The typed trial record: written to a trial, read back, and read from older studies."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

from hpsearch.tuning.record import (
    RECORD_KEYS,
    FoldResult,
    TrialRecord,
    Worker,
    other_attrs,
    read_record,
    record_attrs,
    record_from_attrs,
    requeued,
)
from hpsearch.tuning.reporting import write_record

HISTORY = {
    "records": [
        {"epoch": 1, "validation_accuracy": 0.5, "gradient_norms": [0.1, 0.2]},
        {"epoch": 2, "validation_accuracy": 0.75, "gradient_norms": [0.05, 0.1]},
    ],
    "best_epoch": 2,
    "best_validation_accuracy": 0.75,
    "stop_reason": "max_epochs",
}


def test_written_record_reads_back() -> None:
    """Two partial writes (the objective's start and end) read back as one record."""
    study = optuna.create_study(storage=optuna.storages.InMemoryStorage())
    trial = study.ask()
    start = TrialRecord(worker=Worker("host-a", 42), command="hpsearch retrain s --trial 0")
    write_record(trial, start)
    end = TrialRecord(
        history=HISTORY,
        stop_reason="max_epochs",
        epochs_run=4,
        seconds=1.25,
        folds=(FoldResult(0.75, 2, 2), FoldResult(0.5, 1, 2)),
    )
    write_record(trial, end)
    study.tell(trial, 0.625)
    record = read_record(study.trials[0])
    assert record == TrialRecord(
        history=HISTORY,
        stop_reason="max_epochs",
        epochs_run=4,
        seconds=1.25,
        folds=(FoldResult(0.75, 2, 2), FoldResult(0.5, 1, 2)),
        worker=Worker("host-a", 42),
        command="hpsearch retrain s --trial 0",
    )
    assert record.best_epoch == 2 and record.best_validation_accuracy == 0.75
    assert [r["gradient_norms"] for r in record.curve_records] == [[0.1, 0.2], [0.05, 0.1]]
    assert record.worker is not None and record.worker.label == "host-a:42"
    assert set(study.trials[0].user_attrs) <= RECORD_KEYS


def test_attrs_of_a_study_written_before_the_record() -> None:
    """The user attrs exactly as the objective stored them before TrialRecord existed."""
    old = {
        "worker": {"host": "h", "pid": 7},
        "data_provenance": {"dataset": "digits"},
        "command": "hpsearch retrain old --trial 3",
        "history": HISTORY,
        "stop_reason": "early_stop",
        "epochs_run": 9,
        "seconds": 0.5,
        "folds": [{"value": 0.9, "best_epoch": 4, "epochs_run": 9}],
        "note": "set by a user",
    }
    record = record_from_attrs(old)
    assert record.epochs_run == 9 and record.stop == "early_stop" and record.seconds == 0.5
    assert record.folds == (FoldResult(0.9, 4, 9),)
    assert record.data_provenance == {"dataset": "digits"}
    assert record_attrs(record) == {k: v for k, v in old.items() if k != "note"}
    assert other_attrs(old) == {"note": "set by a user"}


def test_wrong_types_read_as_missing() -> None:
    record = record_from_attrs(
        {"epochs_run": "ten", "worker": "w", "history": [1], "seconds": True}
    )
    assert record == TrialRecord()
    assert record_attrs(record) == {}


def test_live_curve_and_fail_reason() -> None:
    live = record_from_attrs({"live_history": {"records": [{"epoch": 1}], "stop_reason": None}})
    assert live.curves is not None and live.curve_records == [{"epoch": 1}]
    assert live.stop is None and live.curve_stop_reason is None
    failed = record_from_attrs({"fail_reason": "stopped by SIGTERM"})
    assert failed.stop == "stopped by SIGTERM"


def test_requeued_counts_hpsearch_and_optuna_retries() -> None:
    """A failure re-queued by hpsearch (retry_of) or by Optuna's heartbeat callback
    (system attr failed_trial) is a re-queued failure; a plain failure is not."""
    trials = [
        (0, TrialState.FAIL, record_from_attrs({"fail_reason": "SIGTERM"})),
        (1, TrialState.FAIL, record_from_attrs({})),
        (2, TrialState.FAIL, record_from_attrs({"fail_reason": "diverged"})),
        (3, TrialState.COMPLETE, record_from_attrs({"retry_of": 0})),
        (4, TrialState.WAITING, record_from_attrs({}, {"failed_trial": 1})),
    ]
    assert requeued(trials) == {0, 1}
