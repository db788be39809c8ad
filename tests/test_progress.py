"""Progress bars: redrawn in place on a terminal, a line every few seconds in a pipe or a log."""

import io

import pytest

from stylenet.io import progress
from stylenet.io.progress import progress_bar


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_bar_in_a_log_prints_whole_lines_seconds_apart_not_every_update(monkeypatch):
    log = io.StringIO()
    for _ in progress_bar(range(120), desc="clip", unit="frame", file=log):
        pass
    text = log.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert 1 <= len(lines) <= 2 and "120/120" in lines[-1] and lines[-1].startswith("clip")


def test_a_bar_in_a_log_prints_again_after_the_interval(monkeypatch):
    monkeypatch.setattr(progress, "LOG_INTERVAL", 0.0)  # every update is due
    log = io.StringIO()
    for _ in progress_bar(range(5), desc="x", file=log):
        pass
    assert "\r" not in log.getvalue() and len(log.getvalue().splitlines()) >= 5


def test_a_bar_on_a_terminal_redraws_in_place():
    tty = Terminal()
    for _ in progress_bar(range(3), desc="x", file=tty, mininterval=0):
        pass
    assert "\r" in tty.getvalue()


@pytest.mark.parametrize("stream", [io.StringIO, Terminal])
def test_disable_none_shows_a_bar_only_on_a_terminal(stream):
    out = stream()
    for _ in progress_bar(range(3), desc="x", file=out, disable=None):
        pass
    assert bool(out.getvalue()) == (stream is Terminal)


def test_the_training_bar_ends_where_a_time_budget_moved_max_steps():
    from types import SimpleNamespace

    from stylenet.training.callbacks import StepProgressBar

    trainer = SimpleNamespace(max_steps=40000, global_step=0, is_global_zero=True)
    module = SimpleNamespace(last_losses={"total": 1.0})
    bar = StepProgressBar()
    bar.on_train_start(trainer, module)
    assert bar.bar.total == 40000
    trainer.global_step, trainer.max_steps = 50, 1100  # callbacks.TimeBudget: the steps that fit
    bar.on_train_batch_end(trainer, module, None, None, 0)
    assert (bar.bar.total, bar.bar.n) == (1100, 50)
    bar.on_train_end(trainer, module)
