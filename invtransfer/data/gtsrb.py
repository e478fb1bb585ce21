"""GTSRB-LT from the German Traffic Sign files, in the official archives' layout or in
torchvision's.

Labels come from the class folders and the CSV annotation files; no image is decoded until an
item is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import Tensor

from invtransfer.data._files import missing_files
from invtransfer.data.folders import ImageFiles
from invtransfer.data.longtail import make_longtail
from invtransfer.data.recipes import LongTailSplits, longtail_with_holdout
from invtransfer.labels import class_counts, resolve_labels

__all__ = ["gtsrb_lt"]


@dataclass(frozen=True)
class _Layout:
    """Where one layout keeps the training class folders, the test images and the test CSV."""

    name: str
    train: str
    test: str
    test_csv: tuple[str, ...]
    """Places the test annotations may be, the first that exists wins."""
    train_csvs: bool
    """Whether each class folder ``000NN`` has its ``GT-000NN.csv`` to read labels from."""

    def describe(self) -> str:
        class_csv = " with GT-000NN.csv" if self.train_csvs else ""
        return (
            f"{self.name}: {self.train}/000NN/*.ppm{class_csv}, {self.test}/*.ppm and "
            f"{' or '.join(self.test_csv)}"
        )


_OFFICIAL = _Layout(
    name="the official archives",
    train="GTSRB/Final_Training/Images",
    test="GTSRB/Final_Test/Images",
    test_csv=(
        "GT-final_test.csv",
        "GTSRB/Final_Test/Images/GT-final_test.csv",
        "GTSRB/Final_Test/GT-final_test.csv",
    ),
    train_csvs=True,
)
_TORCHVISION = _Layout(
    name="torchvision's",
    train="gtsrb/GTSRB/Training",
    test="gtsrb/GTSRB/Final_Test/Images",
    test_csv=("gtsrb/GT-final_test.csv",),
    train_csvs=False,
)
_LAYOUTS = (_OFFICIAL, _TORCHVISION)


def gtsrb_lt(
    root: str | Path,
    *,
    imbalance_ratio: float = 100.0,
    max_count: int | None = None,
    size: int = 32,
    seed: int = 0,
    val_per_class: int = 0,
) -> LongTailSplits:
    """GTSRB-LT: an exponential profile over the German Traffic Sign training set.

    ``root`` holds the files in either of two layouts (nothing is downloaded):

    - the official archives (``GTSRB_Final_Training_Images.zip``,
      ``GTSRB_Final_Test_Images.zip`` and ``GTSRB_Final_Test_GT.zip`` unpacked into
      ``root``): ``GTSRB/Final_Training/Images/000NN/*.ppm``, each class folder with its
      ``GT-000NN.csv``, ``GTSRB/Final_Test/Images/*.ppm``, and ``GT-final_test.csv`` (in
      ``root``, or beside the test images);
    - torchvision's (what ``torchvision.datasets.GTSRB(root, download=False)`` reads):
      ``gtsrb/GTSRB/Training/000NN/*.ppm``, ``gtsrb/GTSRB/Final_Test/Images/*.ppm`` and
      ``gtsrb/GT-final_test.csv``.

    The CSV files are ``;``-separated with a header naming at least ``Filename`` and
    ``ClassId`` (the official ones also give the size and the sign's box, which are not
    used: images are taken whole). Class folders are numbered as the ``ClassId``; a
    ``GT-000NN.csv`` row of another class, a ``ClassId`` outside the training classes and a
    listed image that does not exist are errors naming the file and line. Images come back
    as ``uint8`` tensors ``(3, size, size)`` (the paper uses 32).

    The official test split is itself imbalanced, so the test set keeps, of every class, as
    many images as the smallest class has (a seeded selection).

    Args:
        root: the folder holding ``GTSRB/`` (official) or ``gtsrb/`` (torchvision).
        imbalance_ratio: ``n_max / n_min`` (100 in the paper).
        max_count: the size of the largest class; by default the largest training class
            (after the validation hold-out). Counts go to classes in order of their size.
        size: the side, in pixels, images are resized to.
        seed: the seed of the long-tailed selection and of the balanced test selection.
        val_per_class: if positive, a balanced validation set of this many images per class,
            set aside from the training images before the long-tailed selection.

    Examples:
        >>> gtsrb_lt("/nowhere")
        Traceback (most recent call last):
        ...
        FileNotFoundError: /nowhere: expected GTSRB in one of two layouts, found neither ...
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size: expected a positive int, received {size!r}")
    root = Path(root)
    layout, test_csv = _find_layout(root)
    train_paths, train_labels = _training_images(root / layout.train, layout.train_csvs)
    num_classes = int(train_labels.max()) + 1
    test_paths, labels = _read_csv(test_csv, root / layout.test, range(num_classes))
    test_labels = resolve_labels(labels=labels)
    empty = (class_counts(test_labels, num_classes) == 0).nonzero().flatten().tolist()
    if empty:
        raise ValueError(
            f"{test_csv}: expected test images of all {num_classes} classes, none of {empty}"
        )
    train = ImageFiles(train_paths, train_labels, image_size=size)
    test = ImageFiles(test_paths, test_labels, image_size=size)
    smallest = int(class_counts(test_labels).min())
    balanced = make_longtail(test, [smallest] * num_classes, seed=seed)
    return longtail_with_holdout(
        train, balanced, imbalance_ratio, max_count, seed, val_per_class, train.targets
    )


def _find_layout(root: Path) -> tuple[_Layout, Path]:
    """The layout under ``root`` and its test CSV; an error listing both layouts if none."""
    for layout in _LAYOUTS:
        if (root / layout.train).is_dir():
            csv = next((root / name for name in layout.test_csv if (root / name).is_file()), None)
            if csv is None or not (root / layout.test).is_dir():
                raise FileNotFoundError(
                    f"{root}: found the training images of {layout.name} layout but not all "
                    f"of its test files; expected {layout.describe()}"
                )
            return layout, csv
    raise FileNotFoundError(
        f"{root}: expected GTSRB in one of two layouts, found neither (nothing is "
        f"downloaded): {'; or '.join(layout.describe() for layout in _LAYOUTS)}"
    )


def _training_images(folder: Path, with_csvs: bool) -> tuple[list[Path], Tensor]:
    """The training images and labels, class by class, from the CSVs or the ``.ppm`` files."""
    names = sorted(path.name for path in folder.iterdir() if path.is_dir())
    expected = [f"{label:05d}" for label in range(len(names))]
    if not names or names != expected:
        raise ValueError(
            f"{folder}: expected class folders 00000, 00001, ... numbered as the ClassId, "
            f"received {names}"
        )
    paths: list[Path] = []
    labels: list[int] = []
    for label, name in enumerate(names):
        if with_csvs:
            found, _ = _read_csv(folder / name / f"GT-{name}.csv", folder / name, [label])
        else:
            found = sorted(p for p in (folder / name).iterdir() if p.suffix.lower() == ".ppm")
        if not found:
            raise ValueError(
                f"{folder / name}: expected the .ppm images of class {label}, found none"
            )
        paths += found
        labels += [label] * len(found)
    return paths, resolve_labels(labels=labels)


def _read_csv(csv: Path, images: Path, classes: range | list[int]) -> tuple[list[Path], list[int]]:
    """The images (under ``images``) and ``ClassId`` of a GTSRB annotation file, every
    listed image checked to exist and every class to be one of ``classes``."""
    if not csv.is_file():
        raise FileNotFoundError(f"{csv}: expected the GTSRB annotation file, found none")
    lines = csv.read_text(encoding="utf-8-sig").splitlines()
    header = [column.strip() for column in lines[0].split(";")] if lines else []
    if "Filename" not in header or "ClassId" not in header:
        raise ValueError(
            f"{csv}, line 1: expected a ';'-separated header with Filename and ClassId, "
            f"received {lines[0] if lines else ''!r}"
        )
    name_at, class_at = header.index("Filename"), header.index("ClassId")
    rows = [(number, text.split(";")) for number, text in enumerate(lines, 1) if text.strip()]
    paths: list[Path] = []
    labels: list[int] = []
    for number, fields in rows[1:]:
        label = fields[class_at].strip() if len(fields) == len(header) else ""
        if not label.isdecimal() or int(label) not in classes:
            raise ValueError(
                f"{csv}, line {number}: expected {len(header)} fields with a ClassId in "
                f"{_describe(classes)}, received {';'.join(fields)!r}"
            )
        paths.append(images / fields[name_at].strip())
        labels.append(int(label))
    if missing := missing_files(paths):
        raise ValueError(
            f"{csv}, line {rows[missing[0] + 1][0]}: expected the image {paths[missing[0]]}, "
            f"found no such file ({len(missing)} of the {len(paths)} listed are missing)"
        )
    return paths, labels


def _describe(classes: range | list[int]) -> str:
    return f"[0, {len(classes)})" if isinstance(classes, range) else f"{list(classes)}"
