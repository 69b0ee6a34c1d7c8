"""SIGTERM and SIGHUP (a scheduler's stop, a closed terminal) handled as Ctrl-C is: the run stops at its next
step and writes its best result and report; the command then exits with 128 + the signal's number (130 for
SIGINT, 143 for SIGTERM, 129 for SIGHUP), so a script can tell a partial result from a finished one."""

from __future__ import annotations

import signal
import threading

_state = {"signum": int(signal.SIGINT)}

#: Set by every stop signal and handed to the run as its ``cancel`` (:func:`watch`): a KeyboardInterrupt raised
#: where Python only reports it ("Exception ignored in ...": a finaliser, a garbage collector's callback) is
#: lost and the fit would go on; the event still ends it at its next logged step.
_requested = threading.Event()


def install() -> None:
    """Turn SIGTERM and SIGHUP into KeyboardInterrupt in the main thread (where the fit or its wait runs).

    A signal the process was started with ignored stays ignored: ``nohup deepprior ...`` must outlive the
    terminal it was started from (its SIGHUP), as nohup promises. SIGINT gets the same handler where it has
    Python's default one (which raises the same KeyboardInterrupt); a host's own handler is left alone."""
    if threading.current_thread() is not threading.main_thread():
        return
    _state["signum"] = int(signal.SIGINT)  # a command run earlier in this process does not name this one's
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        current = signal.getsignal(sig)
        if current is not signal.SIG_IGN and (sig != signal.SIGINT or current is signal.default_int_handler):
            signal.signal(sig, _raise)


def _raise(signum: int, frame: object) -> None:
    _state["signum"] = signum
    _requested.set()
    raise KeyboardInterrupt


def watch() -> threading.Event:
    """The event a stop signal sets from now on (cleared here: an earlier command's signal in this process
    does not end this run), to pass to :func:`deepprior.run` as ``cancel``."""
    _requested.clear()
    return _requested


def received() -> str:
    """The name of the signal that interrupted the run (SIGINT unless another came)."""
    return signal.Signals(_state["signum"]).name


def exit_status() -> int:
    return 128 + _state["signum"]
