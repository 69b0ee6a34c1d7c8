"""A real SIGINT, SIGTERM or SIGHUP to a running fit (or to tiles fitted by two worker threads): the run stops
cleanly, writes the result so far and the report, says so, and exits with 128 + the signal's number."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import SIZE
from helpers import image_info, stop_signals_default


def _wait_for(stream, text: str, seconds: float = 60.0) -> str:
    """Read ``stream`` a character at a time until ``text`` has appeared (at most ``seconds``)."""
    seen, deadline = "", time.monotonic() + seconds
    while text not in seen:
        c = stream.read(1)
        if not c or time.monotonic() > deadline:
            raise AssertionError(f"no {text!r} in {seen!r}")
        seen += c
    return seen


@pytest.mark.parametrize("tiles,first_line,sig", [
    ([], "fitting 40x36", signal.SIGINT),
    (["--tile", "24", "--workers", "2"], "fitting 4 tiles of 24x24", signal.SIGTERM),
    ([], "fitting 40x36", signal.SIGHUP)])
def test_a_signal_keeps_the_result_and_the_report(tmp_path, noisy_png, tiles, first_line, sig):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "deepprior", "denoise", str(noisy_png), "-o", "out.png",
                             "--report", "rep", "--iters", "100000", "--log-every", "1", "--channels-down", "8x2",
                             "--channels-up", "8x2", "--channels-skip", "2x2", "--input-channels", "4", *tiles],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=stop_signals_default)
    try:
        assert first_line in _wait_for(proc.stderr, "\n")  # the estimate, printed just before the fit starts
        _wait_for(proc.stderr, "it/s")  # the progress bar: the first step has been logged
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 128 + sig, err
    assert f"interrupted ({sig.name}): wrote the best result so far" in err and "Traceback" not in err
    assert image_info(tmp_path / "out.png") == (SIZE, "RGB")
    m = json.loads((tmp_path / "rep" / "metrics.json").read_text())
    assert m["stopped_by"] == "interrupted" and m["interrupted"] is True and 1 <= m["iterations"] < 100000


def test_a_run_under_nohup_outlives_its_terminal(tmp_path, noisy_png):
    """SIGHUP ignored at start (as nohup leaves it) stays ignored; SIGTERM still stops the run cleanly."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "deepprior", "denoise", str(noisy_png), "-o", "out.png",
                             "--iters", "100000", "--log-every", "1", "--channels-down", "8x2", "--channels-up",
                             "8x2", "--channels-skip", "2x2", "--input-channels", "4"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    try:
        _wait_for(proc.stderr, "it/s")
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        assert proc.poll() is None, "SIGHUP stopped a run started with it ignored"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143 and "interrupted (SIGTERM)" in err


def test_a_stop_signal_whose_interrupt_is_lost_still_ends_the_fit(one_torch_thread):
    """A KeyboardInterrupt raised where Python only reports it (a finaliser, a garbage collector's callback) is
    lost; the event the signal also sets ends the fit at its next logged step, as the command line passes it."""
    import deepprior
    from deepprior.cli import signals
    from helpers import SMALL, noisy, smooth_image

    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    steps = []

    def lose_an_interrupt(record):
        steps.append(int(record.row["iteration"]))
        if steps[-1] == 3:
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(1.0)  # the handler runs here, in the main thread, and raises
            except KeyboardInterrupt:
                pass  # lost, as in a finaliser
    try:
        signals.install()
        job = deepprior.plan(noisy(smooth_image(32, 32)), "denoise", method="dip", iterations=200, log_every=1,
                             stop="none", **SMALL)
        r = deepprior.run(job, callbacks=[lose_an_interrupt], cancel=signals.watch())
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)
    assert steps[-1] == 3 and r.metrics["iterations"] == 3  # the step whose callback lost it: checked right after
    assert r.metrics["interrupted"] is True and r.metrics["stopped_by"] == "interrupted"
    assert signals.received() == "SIGTERM" and signals.watch().is_set() is False  # cleared for the next run
