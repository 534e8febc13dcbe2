"""Taking queued trials back out of the budget when ``n_trials`` is lowered.

Optuna cannot delete a trial. A WAITING trial that is no longer in the budget is
claimed with the same atomic WAITING -> RUNNING switch workers use (so no worker can
be running it), marked ``cancelled`` and failed at once; ``counted_trials`` leaves
such trials out of the budget, and no worker ever trains them.
"""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

from hpsearch.storage.running import _claiming_storage

#: User attr of a queued trial taken out of the budget (its value says why).
CANCELLED = "cancelled"


def cancel_waiting_trials(study: optuna.Study, count: int, reason: str) -> int:
    """Take up to ``count`` WAITING trials (the last queued first) out of the budget;
    how many were taken. A trial a worker claims meanwhile is left to it."""
    storage = study._storage
    claiming = _claiming_storage(study)
    waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
    cancelled = 0
    for frozen in sorted(waiting, key=lambda t: t.number, reverse=True):
        if cancelled == count:
            break
        trial_id = frozen._trial_id
        try:
            if claiming is not None:
                if not claiming.claim_waiting_trial(trial_id):
                    continue
            elif not storage.set_trial_state_values(trial_id, state=TrialState.RUNNING):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        storage.set_trial_user_attr(trial_id, CANCELLED, reason)
        storage.set_trial_user_attr(trial_id, "fail_reason", f"cancelled: {reason}")
        storage.set_trial_state_values(trial_id, state=TrialState.FAIL)
        cancelled += 1
    return cancelled
