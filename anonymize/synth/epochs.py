"""Per-epoch progress for SDV's CTGAN and TVAE, which offer no epoch callback.

SDV 2.0 builds ``ctgan.CTGAN`` / ``ctgan.TVAE`` inside ``fit``, and ctgan 0.12 runs its epochs
as ``for i in tqdm(range(epochs), disable=not verbose)``, with ``tqdm`` imported into
``ctgan.synthesizers.ctgan`` and ``ctgan.synthesizers.tvae``. That iterator is the one place
where an epoch ends that can be observed without copying SDV's or ctgan's fit code, so this
module replaces the ``tqdm`` name in those two modules, once, by a function that builds the
real tqdm bar and, when a callback is armed by :func:`reporting_epochs` in the current context
(thread or task), wraps it so that each finished epoch is reported. With nothing armed, or for
an iterable whose length is not the expected number of epochs, it returns tqdm's bar
unchanged: other users of ctgan in the process see no difference.

If a later ctgan stops using that name, nothing breaks: the fit is reported when it starts and
when it ends, and the epoch test in tests/anonymize/test_synth.py fails to say so.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

#: Modules whose module-level ``tqdm`` drives the epoch loop (ctgan 0.12).
EPOCH_LOOP_MODULES = ("ctgan.synthesizers.ctgan", "ctgan.synthesizers.tvae")
_MARK = "_pseudolink_epoch_hook"


@dataclass
class _Armed:
    total: int
    report: Callable[[int], None]
    done: int = 0
    claimed: bool = False


_ARMED: ContextVar[_Armed | None] = ContextVar("pseudolink_synth_epochs", default=None)


@contextmanager
def reporting_epochs(total: int, report: Callable[[int], None]) -> Iterator[None]:
    """Call ``report(done)`` after each CTGAN/TVAE epoch fitted inside the block.

    ``report(total)`` follows a block that ends normally without reporting every epoch (a
    model without epochs, or a ctgan the hook does not recognise), so a bar always completes.
    """
    _install()
    armed = _Armed(total, report)
    token = _ARMED.set(armed)
    try:
        yield
    finally:
        _ARMED.reset(token)
    if armed.done < total:
        report(total)


def _install() -> None:
    for name in EPOCH_LOOP_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:  # pragma: no cover - ctgan ships with sdv
            continue
        original = getattr(module, "tqdm", None)
        if original is not None and not getattr(original, _MARK, False):
            module.tqdm = _hooked(original)


def _hooked(original: Callable[..., Any]) -> Callable[..., Any]:
    def tqdm(iterable: Any = None, *args: Any, **kwargs: Any) -> Any:
        bar = original(iterable, *args, **kwargs)
        armed = _ARMED.get()
        if armed is None or armed.claimed or _length(iterable) != armed.total:
            return bar
        armed.claimed = True  # one epoch loop per fit
        return _EpochBar(bar, armed)

    setattr(tqdm, _MARK, True)
    return tqdm


def _length(iterable: Any) -> int | None:
    try:
        return len(iterable)
    except TypeError:
        return None


class _EpochBar:
    """tqdm's bar, reporting after each item the loop has finished with."""

    def __init__(self, bar: Any, armed: _Armed) -> None:
        self._bar = bar
        self._armed = armed

    def __iter__(self) -> Iterator[Any]:
        for item in self._bar:
            yield item  # the loop body (one epoch) runs before the generator resumes
            self._armed.done += 1
            self._armed.report(self._armed.done)

    def __getattr__(self, name: str) -> Any:  # set_description and the rest of tqdm
        return getattr(self._bar, name)
