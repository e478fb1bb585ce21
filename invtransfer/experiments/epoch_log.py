"""`EpochLog`: one row per training epoch in the run folder, as CSV and TensorBoard events."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from types import TracebackType
from typing import Any

from invtransfer._paths import inside, write_text

__all__ = ["EpochLog"]


class EpochLog:
    """Append a row of figures per epoch to ``run_dir/training_log.csv`` and, when tensorboard
    is installed, to event files under ``run_dir/tensorboard/``.

    Opened at ``first`` epochs done (a resumed run), it keeps the rows of those epochs and
    drops any written after them, so a killed and resumed run ends with one row per epoch.
    The CSV's columns are those of the first row written. The CSV is replaced atomically
    after each row, and neither it nor the event folder is read or written through a link
    that leads out of ``run_dir``.

    Examples:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> with EpochLog(folder, first=0, tensorboard=False) as log:
        ...     log.write(1, {"loss": 2.5, "lr": 0.1})
        >>> (folder / "training_log.csv").read_text().splitlines()
        ['epoch,loss,lr', '1,2.5,0.1']
    """

    NAME = "training_log.csv"
    """The CSV file's name in the run folder."""

    def __init__(
        self, run_dir: Path, first: int, enabled: bool = True, tensorboard: bool = True
    ) -> None:
        self.run_dir, self.enabled = Path(run_dir), enabled
        self.path = self.run_dir / self.NAME
        self._rows = _rows_before(inside(self.run_dir, self.path), first) if enabled else []
        events = inside(self.run_dir, self.run_dir / "tensorboard")
        self._writer = _tensorboard(events, first) if enabled and tensorboard else None

    def write(self, epoch: int, figures: dict[str, float]) -> None:
        """Record the figures of ``epoch`` (1-based: the number of epochs done)."""
        if not self.enabled:
            return
        self._rows.append({"epoch": epoch, **figures})
        write_text(self.path, _csv_text(self._rows), self.run_dir)
        if self._writer is not None:
            for name, value in figures.items():
                self._writer.add_scalar(name, value, epoch)
            self._writer.flush()

    def __enter__(self) -> EpochLog:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._writer is not None:
            self._writer.close()


def _rows_before(path: Path, first: int) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    try:
        return [row for row in rows if int(row["epoch"]) <= first]
    except (KeyError, TypeError, ValueError):
        raise ValueError(
            f"{path}: expected a training log with a whole-number 'epoch' column, received "
            f"a malformed file (delete it to start the log again)"
        ) from None


def _csv_text(rows: list[dict[str, Any]]) -> str:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()


def _tensorboard(folder: Path, first: int) -> Any:
    """A SummaryWriter that discards events after ``first`` epochs, or ``None`` without
    tensorboard."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional
        return None
    return SummaryWriter(str(folder), purge_step=first + 1)
