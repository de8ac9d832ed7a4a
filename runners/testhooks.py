"""Test-only fault injection, switched on by BENCHSITE_TEST_HOOK; off (and free) in every real run.

Values: ``oom`` (the model's forward raises an out-of-memory error), ``crash``
(the forward raises RuntimeError), ``sigkill-after-epoch:N`` (the worker
SIGKILLs itself right after epoch N's checkpoint), ``sigkill-between-checkpoint-writes:N``
(SIGKILL after epoch N's weights are written, before its state). They let the tests produce
each failure status for real on a CPU.
"""

from __future__ import annotations

import os
import signal

ENV = "BENCHSITE_TEST_HOOK"


def active() -> str:
    """The hook named in the environment, or ''."""
    return os.environ.get(ENV, "")


def kill_after_epoch(epoch: int) -> None:
    """SIGKILL this process if the hook asks for it after ``epoch``."""
    hook = active()
    if hook.startswith("sigkill-after-epoch:") and int(hook.split(":", 1)[1]) == epoch:
        os.kill(os.getpid(), signal.SIGKILL)


def kill_between_checkpoint_writes(epoch: int) -> None:
    """SIGKILL this process between a checkpoint's weights and its state if the hook asks for it at ``epoch``."""
    hook = active()
    if hook.startswith("sigkill-between-checkpoint-writes:") and int(hook.split(":", 1)[1]) == epoch:
        os.kill(os.getpid(), signal.SIGKILL)
