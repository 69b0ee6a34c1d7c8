"""SIGTERM and SIGHUP (a scheduler's stop, a closed terminal) handled as Ctrl-C is: the run stops at its next
step and writes its best result and report; the command then exits with 128 + the signal's number (130 for
SIGINT, 143 for SIGTERM, 129 for SIGHUP), so a script can tell a partial result from a finished one."""

from __future__ import annotations

import signal
import threading

_state = {"signum": int(signal.SIGINT)}


def install() -> None:
    """Turn SIGTERM and SIGHUP into KeyboardInterrupt in the main thread (where the fit or its wait runs).

    A signal the process was started with ignored stays ignored: ``nohup deepprior ...`` must outlive the
    terminal it was started from (its SIGHUP), as nohup promises."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, _raise)


def _raise(signum: int, frame: object) -> None:
    _state["signum"] = signum
    raise KeyboardInterrupt


def received() -> str:
    """The name of the signal that interrupted the run (SIGINT unless another came)."""
    return signal.Signals(_state["signum"]).name


def exit_status() -> int:
    return 128 + _state["signum"]
