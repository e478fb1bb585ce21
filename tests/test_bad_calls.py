"""Bad calls across the public API: transforms, sampling, losses, metrics, labels, readers, data
recipes, the generative model, models, checkpoints and the experiments API.

Each row is one distinct bad call and the argument (or file) its message must name. Every call
must raise ``ValueError``, ``TypeError`` or ``FileNotFoundError`` whose message starts with that
name (the reader tests: contains the file's path): no silent acceptance, no NaN output, no error
from deep inside torch. The rows are generated where a pattern repeats (every family and kernel
against every kind of bad number), listed where a call is particular.
"""

from __future__ import annotations

import gzip
import math
import re
from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from invtransfer import checkpoint as C
from invtransfer import data as D
from invtransfer import experiments as E
from invtransfer import generative as G
from invtransfer import labels as L
from invtransfer import losses
from invtransfer import metrics as M
from invtransfer import models as Mo
from invtransfer import sampling as S
from invtransfer import transforms as T
from invtransfer.data import readers
from invtransfer.experiments.evaluation import predict
from invtransfer.transforms import functional as F

ERRORS = (ValueError, TypeError, FileNotFoundError)
NAN, INF = math.nan, math.inf
X = torch.rand(2, 1, 8, 8)
X3 = torch.rand(2, 3, 8, 8)
LABELS = [0, 0, 0, 1, 1, 2]
COUNTS = [5, 3, 1]
LOGITS = torch.zeros(4, 3)
TARGETS = torch.tensor([0, 1, 2, 0])

ROWS: list = []
"""``(module, id, call, name)``: the call must raise naming ``name``."""


def bad(module: str, ident: str, call, name: str) -> None:
    ROWS.append(pytest.param(call, name, id=f"{module}:{ident}"))


def bad_table(module: str, calls: dict) -> None:
    """A row per entry ``ident: (call, name)``."""
    for ident, (call, name) in calls.items():
        bad(module, ident, call, name)


def bad_arguments(module: str, owners: dict, values: dict, call) -> None:
    """A row per owner, argument and kind of bad value (``owners``: ``{owner: {argument:
    [kind, ...]}}``, ``values``: ``{kind: value}``): ``call(owner, {argument: value})``
    must raise naming the argument."""
    for owner, arguments in owners.items():
        for argument, kinds in arguments.items():
            for kind in kinds:
                bad(
                    module,
                    f"{owner.__name__}({argument}={kind})",
                    lambda o=owner, a=argument, v=values[kind]: call(o, {a: v}),
                    argument,
                )


# --- transforms: family constructors ---------------------------------------------------------

NUMBERS = {
    "None": None,
    "str": "0.5",
    "nan": NAN,
    "inf": INF,
    "-inf": -INF,
    "bool": True,
    "tensor": torch.tensor(0.5),
    "list3": [0.1, 0.2, 0.3],
}
"""Bad kinds of value for a number, or a (low, high) pair of numbers."""

PAIRS = {
    "pair-nan": (0.5, NAN),
    "pair-inf": (-INF, 1.0),
    "pair-str": ("a", "b"),
    "pair-None": (None, 1.0),
    "reversed": (1.5, 0.5),
}

CONSTRUCTOR_ARGS = {
    T.Rotation: {
        "degrees": [*NUMBERS, *PAIRS, "negative"],
        "fill": [*NUMBERS, "2"],
        "interpolation": ["None", "str", "area"],
    },
    T.Affine: {
        "degrees": [*NUMBERS, *PAIRS, "negative"],
        "translate": [*NUMBERS, *PAIRS, "negative", "2"],
        "scale": [*NUMBERS, *PAIRS, "pair-zero"],
        "shear": [*NUMBERS, *PAIRS, "negative", "90"],
        "fill": [*NUMBERS, "2"],
    },
    T.HorizontalFlip: {"p": [*NUMBERS, "2", "negative"]},
    T.RandomCrop: {"padding": [*NUMBERS, "negative", "float"], "fill": [*NUMBERS, "2"]},
    T.BackgroundIntensity: {
        "intensity": [*NUMBERS, *PAIRS, "2"],
        "background": [*NUMBERS, "2", "negative"],
        "tolerance": [*NUMBERS, "2", "negative"],
        "levels": ["str", "nan", "inf", "bool", "negative", "float"],
    },
    T.Brightness: {"factor": [*NUMBERS, *PAIRS, "pair-negative"]},
    T.Contrast: {"factor": [*NUMBERS, *PAIRS, "pair-negative"]},
    T.Gamma: {"gamma": [*NUMBERS, *PAIRS, "pair-negative"]},
    T.Saturation: {"factor": [*NUMBERS, *PAIRS, "pair-negative"]},
    T.GaussianBlur: {
        "sigma": [*NUMBERS, *PAIRS, "pair-negative"],
        "kernel_size": ["str", "nan", "float", "even", "negative"],
    },
    T.Morphology: {
        "dilate_p": [*NUMBERS, "2", "negative"],
        "dilate_sizes": ["None", "str", "nan", "negative", "empty", "float"],
        "erode_sizes": ["None", "str", "nan", "negative", "empty", "float"],
    },
}
VALUES = {
    **NUMBERS,
    **PAIRS,
    "negative": -1,
    "2": 2,
    "90": 90,
    "float": 2.5,
    "even": 4,
    "empty": (),
    "area": "area",
    "pair-zero": (0.0, 1.0),
    "pair-negative": (-1.0, 1.0),
}
bad_arguments("transforms", CONSTRUCTOR_ARGS, VALUES, lambda family, kwargs: family(**kwargs))

bad("transforms", "Compose([])", lambda: T.Compose([]), "families")
bad("transforms", "Compose([None])", lambda: T.Compose([None]), "families")
bad("transforms", "Compose(str)", lambda: T.Compose(["Rotation"]), "families")
bad("transforms", "RandomChoice(p=nan)", lambda: T.RandomChoice([T.Rotation()], p=[NAN]), "p")
bad("transforms", "RandomChoice(p=-1)", lambda: T.RandomChoice([T.Rotation()], p=[-1.0]), "p")
bad("transforms", "RandomChoice(p=len)", lambda: T.RandomChoice([T.Rotation()], p=[1, 1]), "p")
bad("transforms", "RandomApply(None)", lambda: T.RandomApply(None), "family")
bad("transforms", "RandomApply(p=nan)", lambda: T.RandomApply(T.Rotation(), p=NAN), "p")
bad("transforms", "RandomApply(p=str)", lambda: T.RandomApply(T.Rotation(), p="x"), "p")
bad("transforms", "family_by_name(x)", lambda: T.family_by_name("no_such_family"), "family")
bad("transforms", "FamilyTransform(None)", lambda: T.FamilyTransform(None), "family")
bad("transforms", "TorchvisionFamily(None)", lambda: T.TorchvisionFamily(None), "transform")

# --- transforms: sample, views, apply ----------------------------------------------------------

FAMILIES = [
    T.Rotation(30),
    T.Affine(degrees=10, translate=0.1, scale=(0.9, 1.1), shear=5),
    T.HorizontalFlip(),
    T.RandomCrop(2),
    T.BackgroundIntensity(),
    T.Brightness(),
    T.Contrast(),
    T.Gamma(),
    T.Saturation(),
    T.GaussianBlur(),
    T.Morphology(),
]
for family in FAMILIES:
    name = type(family).__name__
    images = X3 if name == "Saturation" else X
    for kind, n in {"0": 0, "-1": -1, "None": None, "float": 2.0, "str": "2"}.items():
        bad("transforms", f"{name}.sample(n={kind})", lambda f=family, n=n: f.sample(n), "n")
        bad(
            "transforms",
            f"{name}.views(k={kind})",
            lambda f=family, k=n, x=images: f.views(x, k),
            "k",
        )
    bad(
        "transforms",
        f"{name}.sample(generator=int)",
        lambda f=family: f.sample(2, generator=0),
        "generator",
    )
    bad("transforms", f"{name}(None)", lambda f=family: f(None), "x")
    bad("transforms", f"{name}(list)", lambda f=family: f([[0.0]]), "x")
    bad("transforms", f"{name}(2-D)", lambda f=family: f(torch.rand(8, 8)), "x")
    bad("transforms", f"{name}(int32)", lambda f=family, x=images: f((x * 9).int()), "x")
    bad("transforms", f"{name}(above 1)", lambda f=family, x=images: f(x + 2), "x")
    bad(
        "transforms",
        f"{name}.apply(params=None)",
        lambda f=family, x=images: f.apply(x, None),
        "params",
    )
    bad(
        "transforms",
        f"{name}.apply(params=dict)",
        lambda f=family, x=images: f.apply(x, {"a": 1}),
        "params",
    )
    bad(
        "transforms",
        f"{name}.apply(params 3 rows)",
        lambda f=family, x=images: f.apply(x, f.identity(3)),
        "params",
    )
    for field, value in family.identity(2).to_dict().items():
        if not value.is_floating_point():
            continue
        for kind, number in {"nan": NAN, "inf": INF, "-inf": -INF}.items():

            def call(f=family, x=images, field=field, number=number):
                flat = f.identity(2).to_dict()
                flat[field] = flat[field].clone()
                flat[field][1] = number
                return f.apply(x, T.Params.from_dict(flat))

            bad("transforms", f"{name}.apply({field}={kind})", call, re.escape(f"params.{field}"))

# --- transforms: functional kernels ------------------------------------------------------------

KERNELS = {
    "rotate": (lambda x, v: F.rotate(x, v), "angle", "real"),
    "affine.angle": (lambda x, v: F.affine(x, v, (0.0, 0.0), 1.0, (0.0, 0.0)), "angle", "real"),
    "affine.translate": (lambda x, v: F.affine(x, 0.0, v, 1.0, (0.0, 0.0)), "translate", "pair"),
    "affine.scale": (lambda x, v: F.affine(x, 0.0, (0.0, 0.0), v, (0.0, 0.0)), "scale", "real"),
    "affine.shear": (lambda x, v: F.affine(x, 0.0, (0.0, 0.0), 1.0, v), "shear", "pair"),
    "adjust_brightness": (F.adjust_brightness, "factor", "real"),
    "adjust_contrast": (F.adjust_contrast, "factor", "real"),
    "adjust_gamma": (F.adjust_gamma, "gamma", "real"),
    "adjust_saturation": (lambda x, v: F.adjust_saturation(X3, v), "factor", "real"),
    "gaussian_blur": (lambda x, v: F.gaussian_blur(x, v, 3), "sigma", "real"),
    "background_intensity": (F.background_intensity, "intensity", "real"),
    "pad_crop": (lambda x, v: F.pad_crop(x, v, 2), "offset", "intpair"),
    "horizontal_flip": (F.horizontal_flip, "flip", "bool"),
    "dilate_or_erode.size": (lambda x, v: F.dilate_or_erode(x, v, True), "size", "int"),
    "dilate_or_erode.dilate": (lambda x, v: F.dilate_or_erode(x, 2, v), "dilate", "bool"),
}
KERNEL_BAD = {
    "real": {
        "None": None,
        "str": "1",
        "nan": NAN,
        "inf": INF,
        "-inf": -INF,
        "bool": True,
        "shape": torch.ones(3),
        "2-D": torch.ones(2, 2),
        "complex": torch.ones(2, dtype=torch.complex64),
        "booltensor": torch.ones(2, dtype=torch.bool),
    },
    "pair": {
        "None": None,
        "str": "1",
        "nan": (NAN, 0.0),
        "inf": (0.0, INF),
        "single": 1.0,
        "triple": (0.0, 0.0, 0.0),
        "shape": torch.ones(2),
        "bool": (True, False),
    },
    "intpair": {
        "None": None,
        "float": (1.5, 0.0),
        "nan": (NAN, 0),
        "shape": torch.ones(2, dtype=torch.long),
        "floattensor": torch.ones(2, 2),
        "bool": (True, 0),
    },
    "int": {
        "None": None,
        "float": 2.5,
        "nan": NAN,
        "str": "2",
        "floattensor": torch.ones(2),
        "zero": 0,
        "shape": torch.ones(3, dtype=torch.long),
    },
    "bool": {
        "None": None,
        "int": 1,
        "str": "yes",
        "floattensor": torch.ones(2),
        "inttensor": torch.ones(2, dtype=torch.long),
        "shape": torch.ones(3, dtype=torch.bool),
    },
}
for kernel, (function, argument, kind) in KERNELS.items():
    for bad_kind, value in KERNEL_BAD[kind].items():
        bad("transforms", f"F.{kernel}({bad_kind})", lambda f=function, v=value: f(X, v), argument)
for kernel in ("rotate", "adjust_brightness", "adjust_gamma", "gaussian_blur", "horizontal_flip"):
    function, _, kind = KERNELS[kernel]
    good = True if kind == "bool" else 1.0
    for bad_kind, x in {
        "None": None,
        "uint8": (X * 255).byte(),
        "3-D": X[0],
        "empty": X[:0],
        "list": [[0.0]],
    }.items():
        bad("transforms", f"F.{kernel}(x={bad_kind})", lambda f=function, x=x, g=good: f(x, g), "x")
bad(
    "transforms",
    "F.gaussian_blur(kernel_size=2)",
    lambda: F.gaussian_blur(X, 1.0, 2),
    "kernel_size",
)
bad(
    "transforms",
    "F.gaussian_blur(kernel_size=str)",
    lambda: F.gaussian_blur(X, 1.0, "3"),
    "kernel_size",
)
bad("transforms", "F.pad_crop(padding=-1)", lambda: F.pad_crop(X, (0, 0), -1), "padding")
bad(
    "transforms",
    "F.rotate(interpolation)",
    lambda: F.rotate(X, 1.0, interpolation="area"),
    "interpolation",
)
bad("transforms", "F.rotate(fill=nan)", lambda: F.rotate(X, 1.0, fill=NAN), "fill")
bad(
    "transforms",
    "F.background_intensity(background=2)",
    lambda: F.background_intensity(X, 0.1, background=2.0),
    "background",
)
bad(
    "transforms",
    "F.background_intensity(tolerance=nan)",
    lambda: F.background_intensity(X, 0.1, tolerance=NAN),
    "tolerance",
)

# --- transforms: Params -----------------------------------------------------------------------

bad("transforms", "Params()", lambda: T.Params(), "Params")
bad("transforms", "Params(a=1)", lambda: T.Params(a=1), "Params")
bad("transforms", "Params(a=scalar)", lambda: T.Params(a=torch.tensor(1.0)), "Params")
bad("transforms", "Params(lengths)", lambda: T.Params(a=torch.ones(2), b=torch.ones(3)), "Params")
bad("transforms", "Params.cat([])", lambda: T.Params.cat([]), "Params.cat")
bad(
    "transforms",
    "Params.cat(fields)",
    lambda: T.Params.cat([T.Params(a=torch.ones(1)), T.Params(b=torch.ones(1))]),
    "Params.cat",
)
bad(
    "transforms",
    "Params.from_dict(clash)",
    lambda: T.Params.from_dict({"a": torch.ones(1), "a.b": torch.ones(1)}),
    "Params.from_dict",
)

# --- sampling ---------------------------------------------------------------------------------

SAMPLER_ARGS = {
    S.ClassBalancedSampler: {
        "power": ["None", "str", "nan", "inf", "-inf", "tensor"],
        "beta": ["str", "nan", "inf", "negative", "1", "tensor"],
        "epoch_length": ["None", "str", "nan", "negative", "0", "float"],
        "seed": ["None", "str", "nan", "negative", "float", "bool"],
        "num_replicas": ["str", "nan", "0", "float"],
        "rank": ["str", "negative", "float", "5"],
        "drop_last": ["None", "str", "1"],
        "infinite": ["None", "str", "1"],
        "schedule": ["str", "nan", "inf", "list"],
    },
    S.RepeatFactorSampler: {
        "threshold": ["None", "str", "nan", "inf", "0", "2"],
        "rounding": ["None", "str", "1"],
        "sqrt": ["None", "str", "1"],
        "seed": ["None", "negative", "float"],
    },
}
SAMPLER_VALUES = {
    **NUMBERS,
    "negative": -1,
    "0": 0,
    "1": 1,
    "2": 2,
    "5": 5,
    "float": 2.5,
    "list": [1.0],
}
bad_arguments("sampling", SAMPLER_ARGS, SAMPLER_VALUES, lambda sampler, kw: sampler(LABELS, **kw))
for argument in ("classes_per_batch", "samples_per_class", "batches_per_epoch"):
    for kind, value in {"str": "2", "nan": NAN, "0": 0, "negative": -1, "float": 1.5}.items():
        arguments = {"classes_per_batch": 2, "samples_per_class": 2, argument: value}
        bad(
            "sampling",
            f"BalancedBatchSampler({argument}={kind})",
            lambda a=arguments: S.BalancedBatchSampler(LABELS, **a),
            argument,
        )
bad(
    "sampling",
    "BalancedBatchSampler(classes>3)",
    lambda: S.BalancedBatchSampler(LABELS, 4, 2),
    "classes_per_batch",
)
for kind, labels in {
    "None": None,
    "float": [0.5, 1.0],
    "negative": [0, -1],
    "2-D": [[0], [1]],
    "str": "abc",
    "empty": [],
}.items():
    bad(
        "sampling",
        f"ClassBalancedSampler(labels={kind})",
        lambda labels=labels: S.ClassBalancedSampler(labels),
        "labels|dataset",
    )
bad(
    "sampling",
    "RepeatFactorSampler(float matrix)",
    lambda: S.RepeatFactorSampler(torch.ones(3, 2)),
    "dataset_or_labels",
)
for kind, epoch in {"None": None, "negative": -1, "float": 1.0, "str": "1"}.items():
    bad(
        "sampling",
        f"set_epoch({kind})",
        lambda e=epoch: S.ClassBalancedSampler(LABELS).set_epoch(e),
        "epoch",
    )
for kind, state in {
    "None": None,
    "empty": {},
    "epoch": {"epoch": -1, "position": 0},
    "position": {"epoch": 0, "position": -1},
    "position-str": {"epoch": 0, "position": "0"},
    "too far": {"epoch": 0, "position": 100},
}.items():
    bad(
        "sampling",
        f"load_state_dict({kind})",
        lambda s=state: S.ClassBalancedSampler(LABELS).load_state_dict(s),
        r"state",
    )
bad(
    "sampling",
    "len(infinite)",
    lambda: len(S.ClassBalancedSampler(LABELS, infinite=True)),
    "infinite|len",
)
SCHEDULES = {
    "Constant(nan)": (lambda: S.Constant(NAN), "value"),
    "Constant(None)": (lambda: S.Constant(None), "value"),
    "Constant(str)": (lambda: S.Constant("1"), "value"),
    "Deferred(start=-1)": (lambda: S.Deferred(-1, 1.0, 0.0), "start_epoch"),
    "Deferred(start=str)": (lambda: S.Deferred("1", 1.0, 0.0), "start_epoch"),
    "Deferred(before=nan)": (lambda: S.Deferred(1, NAN, 0.0), "before"),
    "Deferred(after=inf)": (lambda: S.Deferred(1, 1.0, INF), "after"),
    "Deferred(after=None)": (lambda: S.Deferred(1, 1.0, None), "after"),
    "Deferred()(-1)": (lambda: S.Deferred(1, 1.0, 0.0)(-1), "epoch"),
    "Constant()(None)": (lambda: S.Constant(1.0)(None), "epoch"),
}
for ramp in (S.Linear, S.Cosine):
    SCHEDULES |= {
        f"{ramp.__name__}(end<=start)": (lambda r=ramp: r(5, 5, 0.0, 1.0), "end_epoch"),
        f"{ramp.__name__}(end=float)": (lambda r=ramp: r(0, 5.0, 0.0, 1.0), "end_epoch"),
        f"{ramp.__name__}(end=True)": (lambda r=ramp: r(0, True, 0.0, 1.0), "end_epoch"),
        f"{ramp.__name__}(start=-1)": (lambda r=ramp: r(-1, 5, 0.0, 1.0), "start_epoch"),
        f"{ramp.__name__}(start value nan)": (lambda r=ramp: r(0, 5, NAN, 1.0), "start"),
        f"{ramp.__name__}(end value inf)": (lambda r=ramp: r(0, 5, 0.0, INF), "end"),
        f"{ramp.__name__}(end value str)": (lambda r=ramp: r(0, 5, 0.0, "1"), "end"),
        f"{ramp.__name__}()(-1)": (lambda r=ramp: r(0, 5, 0.0, 1.0)(-1), "epoch"),
    }
bad_table("sampling", SCHEDULES)
WEIGHTS = {
    "method": ["x", None, 1],
    "beta": ["str", "nan", "inf", "negative", "1", "None"],
    "normalize": ["sum", 1, True],
    "counts": ["None", "float", "zero", "2-D", "empty", "str"],
}
WEIGHT_VALUES = {
    **NUMBERS,
    "negative": -1,
    "1": 1.0,
    "float": [1.5, 2.0],
    "zero": [3, 0],
    "2-D": [[3, 1]],
    "empty": [],
}
for argument, kinds in WEIGHTS.items():
    for kind in kinds:
        value = WEIGHT_VALUES.get(kind, kind) if isinstance(kind, str) else kind
        arguments = {"counts": COUNTS, argument: value}
        bad(
            "sampling",
            f"class_weights({argument}={kind!r})",
            lambda a=arguments: S.class_weights(**a),
            argument,
        )

# --- losses -----------------------------------------------------------------------------------

LOSSES = {
    "WeightedCrossEntropy": lambda **k: losses.WeightedCrossEntropy(COUNTS, **k),
    "FocalLoss": lambda **k: losses.FocalLoss(**k),
    "ClassBalancedLoss": lambda **k: losses.ClassBalancedLoss(COUNTS, **k),
    "LDAMLoss": lambda **k: losses.LDAMLoss(COUNTS, **k),
    "LogitAdjustedLoss": lambda **k: losses.LogitAdjustedLoss(COUNTS, **k),
    "BalancedSoftmaxLoss": lambda **k: losses.BalancedSoftmaxLoss(COUNTS, **k),
}
for loss_name, build in LOSSES.items():
    for kind, value in {"None": None, "avg": "avg", "int": 1}.items():
        bad(
            "losses",
            f"{loss_name}(reduction={kind})",
            lambda b=build, v=value: b(reduction=v),
            "reduction",
        )
    for kind, value in {"float": 1.5, "str": "-100", "None": None}.items():
        bad(
            "losses",
            f"{loss_name}(ignore_index={kind})",
            lambda b=build, v=value: b(ignore_index=v),
            "ignore_index",
        )
    for kind, (logits, target, name) in {
        "logits None": (None, TARGETS, "logits"),
        "logits int": (torch.zeros(4, 3, dtype=torch.long), TARGETS, "logits"),
        "logits 1-D": (torch.zeros(4), TARGETS, "logits"),
        "target None": (LOGITS, None, "target"),
        "target float": (LOGITS, TARGETS.float(), "target"),
        "target bool": (LOGITS, TARGETS > 0, "target"),
        "target length": (LOGITS, TARGETS[:3], "target"),
        "target range": (LOGITS, torch.tensor([0, 1, 2, 3]), "target"),
        "target list": (LOGITS, [0, 1, 2, 0], "target"),
    }.items():
        bad("losses", f"{loss_name}({kind})", lambda b=build, lo=logits, t=target: b()(lo, t), name)
for loss_name in (
    "WeightedCrossEntropy",
    "ClassBalancedLoss",
    "LDAMLoss",
    "LogitAdjustedLoss",
    "BalancedSoftmaxLoss",
):
    constructor = getattr(losses, loss_name)
    for kind, counts in {
        "None": None,
        "float": [1.5, 2.0],
        "negative": [3, -1],
        "zero": [3, 0],
        "2-D": [[3, 1]],
        "str": "31",
    }.items():
        bad(
            "losses",
            f"{loss_name}(class_counts={kind})",
            lambda c=constructor, n=counts: c(n),
            "class_counts",
        )
    bad("losses", f"{loss_name}(empty=x)", lambda c=constructor: c(COUNTS, empty="drop"), "empty")
LOSS_SETTINGS = {
    "FocalLoss": {
        "gamma": [None, "2", NAN, INF, -1.0],
        "alpha": [[NAN, 1.0], [-1.0], [[1.0]], "a"],
    },
    "ClassBalancedLoss": {
        "beta": [NAN, 1.0, -0.1, "x"],
        "gamma": [NAN, -1.0, None],
        "loss_type": ["ce", None],
    },
    "LDAMLoss": {
        "max_m": [0.0, NAN, INF, None],
        "s": [0.0, NAN, INF, "30"],
        "schedule": ["drw", NAN, S.Constant(2.0)],
    },
    "LogitAdjustedLoss": {"tau": [-1.0, NAN, INF, None]},
    "WeightedCrossEntropy": {
        "method": ["x", None],
        "beta": [NAN, 1.0],
        "label_smoothing": [2.0, NAN, -0.1],
        "schedule": ["drw", INF, S.Constant(-1.0)],
    },
}
for loss_name, arguments in LOSS_SETTINGS.items():
    for argument, values in arguments.items():
        for value in values:
            bad(
                "losses",
                f"{loss_name}({argument}={value!r})",
                lambda b=LOSSES[loss_name], a=argument, v=value: b(**{a: v}),
                argument,
            )
bad(
    "losses",
    "WeightedCrossEntropy.set_epoch(-1)",
    lambda: losses.WeightedCrossEntropy(COUNTS).set_epoch(-1),
    "epoch",
)
bad(
    "losses",
    "adjust_logits(logits=list)",
    lambda: losses.adjust_logits([0.0, 1.0, 2.0], COUNTS),
    "logits",
)
bad(
    "losses",
    "adjust_logits(classes)",
    lambda: losses.adjust_logits(torch.zeros(2, 2), COUNTS),
    "logits",
)
bad(
    "losses",
    "adjust_logits(counts)",
    lambda: losses.adjust_logits(LOGITS, [3, 0, 1]),
    "class_counts",
)

# --- metrics ----------------------------------------------------------------------------------

PAIRED = {
    "ekld": (M.ekld, "logits"),
    "consistency": (M.consistency, "logits"),
    "divergence": (M.divergence, "logits"),
    "divergence-js": (lambda a, b: M.divergence(a, b, "js"), "logits"),
    "feature_distance": (M.feature_distance, "features"),
}
PAIR_BAD = {
    "None": None,
    "list": [[0.0, 1.0]],
    "int": torch.zeros(4, 3, dtype=torch.long),
    "1-D": torch.zeros(4),
    "nan": torch.tensor([[0.0, NAN, 1.0]] * 4),
    "inf": torch.tensor([[0.0, INF, 1.0]] * 4),
    "-inf": torch.tensor([[0.0, -INF, 1.0]] * 4),
    "shape": torch.zeros(3, 3),
}
for function_name, (function, kind) in PAIRED.items():
    for bad_kind, value in PAIR_BAD.items():
        good = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
        bad(
            "metrics",
            f"{function_name}(clean={bad_kind})",
            lambda f=function, v=value, g=good: f(v, g),
            f"clean_{kind}" if bad_kind != "shape" else f"transformed_{kind}",
        )
        bad(
            "metrics",
            f"{function_name}(transformed={bad_kind})",
            lambda f=function, v=value, g=good: f(g, v),
            f"transformed_{kind}",
        )
for kind in ("l2", None, "KL"):
    bad(
        "metrics",
        f"divergence(kind={kind})",
        lambda k=kind: M.divergence(LOGITS, LOGITS, k),
        "kind",
    )
same = torch.ones(4, 3)
bad(
    "metrics",
    "feature_distance(identical rows)",
    lambda: M.feature_distance(same, same + 1),
    "clean_features",
)
for kind, scale in {
    "zero": 0.0,
    "negative": -1.0,
    "nan": NAN,
    "inf": INF,
    "str": "1",
    "tensor zero": torch.zeros(4),
    "tensor nan": torch.full((4,), NAN),
}.items():
    bad(
        "metrics",
        f"feature_distance(scale={kind})",
        lambda s=scale: M.feature_distance(LOGITS, LOGITS, s),
        "scale",
    )
for kind, features in {
    "1 row": torch.zeros(1, 3),
    "None": None,
    "nan": torch.tensor([[NAN], [1.0]]),
    "int": torch.zeros(3, 2, dtype=torch.long),
}.items():
    bad(
        "metrics",
        f"random_pair_distance({kind})",
        lambda f=features: M.random_pair_distance(f),
        "features",
    )
for kind, value in {"0": 0, "None": None, "str": "3", "float": 3.0}.items():
    bad(
        "metrics",
        f"InvarianceMeter(num_classes={kind})",
        lambda v=value: M.InvarianceMeter(v),
        "num_classes",
    )
bad("metrics", "InvarianceMeter(divergence=x)", lambda: M.InvarianceMeter(3, "l2"), "divergence")
for kind, (clean, transformed, targets, name) in {
    "clean nan": (torch.full((4, 3), NAN), LOGITS, TARGETS, "clean_logits"),
    "transformed inf": (LOGITS, torch.full((4, 3), INF), TARGETS, "transformed_logits"),
    "clean None": (None, LOGITS, TARGETS, "clean_logits"),
    "clean int": (LOGITS.long(), LOGITS, TARGETS, "clean_logits"),
    "classes": (torch.zeros(4, 2), torch.zeros(4, 2), TARGETS, "clean_logits"),
    "shapes": (LOGITS, torch.zeros(3, 3), TARGETS, "transformed_logits"),
    "targets range": (LOGITS, LOGITS, torch.tensor([0, 1, 2, 3]), "targets"),
    "targets float": (LOGITS, LOGITS, TARGETS.float(), "targets"),
    "targets length": (LOGITS, LOGITS, TARGETS[:2], "targets"),
    "targets None": (LOGITS, LOGITS, None, "targets"),
}.items():
    bad(
        "metrics",
        f"InvarianceMeter.update({kind})",
        lambda c=clean, t=transformed, y=targets: M.InvarianceMeter(3).update(c, t, y),
        name,
    )
ACCURACY = {
    "per_class_accuracy": lambda p, t, **k: M.per_class_accuracy(p, t, **k),
    "balanced_accuracy": lambda p, t, **k: M.balanced_accuracy(p, t, **k),
    "shot_accuracy": lambda p, t, **k: M.shot_accuracy(p, t, COUNTS, **k),
}
for function_name, function in ACCURACY.items():
    for kind, (predictions, targets, name) in {
        "logits nan": (torch.full((4, 3), NAN), TARGETS, "predictions_or_logits"),
        "logits inf": (torch.tensor([[INF, 0.0, 0.0]] * 4), TARGETS, "predictions_or_logits"),
        "predictions None": (None, TARGETS, "predictions_or_logits"),
        "predictions list": ([0, 1, 2, 0], TARGETS, "predictions_or_logits"),
        "predictions float 1-D": (torch.zeros(4), TARGETS, "predictions_or_logits"),
        "predictions 3-D": (torch.zeros(4, 3, 1), TARGETS, "predictions_or_logits"),
        "predictions range": (torch.tensor([0, 1, -1, 0]), TARGETS, "predictions_or_logits"),
        "targets None": (LOGITS, None, "targets"),
        "targets str": (LOGITS, "0120", "targets"),
        "targets float": (LOGITS, [0.5, 1.0, 2.0, 0.0], "targets"),
        "targets length": (LOGITS, TARGETS[:3], "targets"),
        "targets range": (LOGITS, [0, 1, 2, 7], "targets"),
        "targets negative": (LOGITS, [0, 1, 2, -1], "targets"),
    }.items():
        bad(
            "metrics",
            f"{function_name}({kind})",
            lambda f=function, p=predictions, t=targets: f(p, t),
            name,
        )
    if function_name == "shot_accuracy":  # the class count comes from train_class_counts
        continue
    for kind, value in {"0": 0, "str": "3", "float": 3.0, "mismatch": 4}.items():
        bad(
            "metrics",
            f"{function_name}(num_classes={kind})",
            lambda f=function, v=value: f(LOGITS, TARGETS, num_classes=v),
            "num_classes|predictions_or_logits",
        )
bad(
    "metrics",
    "shot_accuracy(counts None)",
    lambda: M.shot_accuracy(LOGITS, TARGETS, None),
    "train_class_counts|counts",
)
bad(
    "metrics",
    "shot_accuracy(counts length)",
    lambda: M.shot_accuracy(LOGITS, TARGETS, [5, 3]),
    "train_class_counts|counts|num_classes|targets",
)
STATISTICS = {
    "t_quantile(probability=1)": (lambda: M.t_quantile(1.0, 3), "probability"),
    "t_quantile(probability=nan)": (lambda: M.t_quantile(NAN, 3), "probability"),
    "t_quantile(probability=str)": (lambda: M.t_quantile("0.9", 3), "probability"),
    "t_quantile(df=0)": (lambda: M.t_quantile(0.9, 0), "df"),
    "t_quantile(df=float)": (lambda: M.t_quantile(0.9, 2.5), "df"),
    "mean_interval(confidence=1)": (lambda: M.mean_interval([1.0, 2.0], 1.0), "confidence"),
    "mean_interval(confidence=nan)": (lambda: M.mean_interval([1.0, 2.0], NAN), "confidence"),
    "mean_interval(confidence=str)": (lambda: M.mean_interval([1.0, 2.0], "0.95"), "confidence"),
    "mean_interval(values=None)": (lambda: M.mean_interval(None), "values"),
    "mean_interval(values=str)": (lambda: M.mean_interval(["a"]), "values"),
    "paired_difference(lengths)": (lambda: M.paired_difference([1.0, 2.0], [1.0]), "after"),
    "paired_difference(before=None)": (lambda: M.paired_difference(None, [1.0]), "before"),
    "paired_difference(after=str)": (lambda: M.paired_difference([1.0], "a"), "after"),
    "ranks(None)": (lambda: M.ranks(None), "values"),
    "ranks(complex)": (lambda: M.ranks(torch.ones(2, dtype=torch.complex64)), "values"),
    "spearman(lengths)": (lambda: M.spearman(torch.ones(3), torch.ones(2)), "y"),
    "spearman(None)": (lambda: M.spearman(None, torch.ones(2)), "x"),
    "size_trend(lengths)": (lambda: M.size_trend(torch.ones(3), torch.ones(2)), "values"),
    "size_trend(sizes 0)": (lambda: M.size_trend(torch.tensor([0.0, 1.0]), torch.ones(2)), "sizes"),
    "log_slope(sizes negative)": (
        lambda: M.log_slope(torch.tensor([-1.0, 2.0]), torch.ones(2)),
        "sizes",
    ),
    "log_slope(values None)": (lambda: M.log_slope(torch.ones(2), None), "values"),
    "bootstrap_interval(seed=-1)": (lambda: M.bootstrap_interval(torch.ones(3), -1), "seed"),
    "bootstrap_interval(seed=None)": (lambda: M.bootstrap_interval(torch.ones(3), None), "seed"),
    "bootstrap_interval(confidence=0)": (
        lambda: M.bootstrap_interval(torch.ones(3), 0, 0.0),
        "confidence",
    ),
    "bootstrap_interval(resamples=0)": (
        lambda: M.bootstrap_interval(torch.ones(3), 0, resamples=0),
        "resamples",
    ),
    "bootstrap_interval(values=None)": (lambda: M.bootstrap_interval(None, 0), "values"),
    "pooled_spearman(seed=-1)": (
        lambda: M.pooled_spearman([torch.ones(2)], [torch.ones(2)], seed=-1),
        "seed",
    ),
    "pooled_spearman(seed=str)": (
        lambda: M.pooled_spearman([torch.ones(2)], [torch.ones(2)], seed="0"),
        "seed",
    ),
    "pooled_spearman(runs)": (lambda: M.pooled_spearman([torch.ones(2)], []), "values"),
    "pooled_spearman(confidence=2)": (
        lambda: M.pooled_spearman([torch.ones(2)], [torch.ones(2)], confidence=2),
        "confidence",
    ),
    "pooled_spearman(resamples=-1)": (
        lambda: M.pooled_spearman([torch.ones(2)], [torch.ones(2)], resamples=-1),
        "resamples",
    ),
}
CURVE_DATA = torch.utils.data.TensorDataset(torch.rand(4, 1, 4, 4), torch.tensor([0, 1, 0, 1]))
CURVE_MODEL = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2))
for kind, seed in {"-1": -1, "None": None, "str": "0", "float": 0.5}.items():
    STATISTICS[f"evaluation_set(seed={kind})"] = (
        lambda s=seed: M.evaluation_set(CURVE_DATA, 2, 2, s),
        "seed",
    )
    STATISTICS[f"invariance_curve(seed={kind})"] = (
        lambda s=seed: M.invariance_curve(
            CURVE_MODEL, CURVE_DATA, T.Rotation(), [2, 2], 2, 2, seed=s, progress=False
        ),
        "seed",
    )
bad_table("metrics", STATISTICS)

# --- labels -----------------------------------------------------------------------------------

LABEL_CALLS = {
    "resolve_labels()": (lambda: L.resolve_labels(), "dataset"),
    "resolve_labels(labels=[])": (lambda: L.resolve_labels(labels=[]), "labels"),
    "resolve_labels(labels=float)": (lambda: L.resolve_labels(labels=[0.9, 1.0]), "labels"),
    "resolve_labels(labels=bool)": (lambda: L.resolve_labels(labels=[True]), "labels"),
    "resolve_labels(labels=negative)": (lambda: L.resolve_labels(labels=[0, -1]), "labels"),
    "resolve_labels(labels=2-D)": (lambda: L.resolve_labels(labels=[[0, 1]]), "labels"),
    "resolve_labels(labels=str)": (lambda: L.resolve_labels(labels=["a"]), "labels"),
    "resolve_labels(labels=ragged)": (lambda: L.resolve_labels(labels=[[0], [1, 2]]), "labels"),
    "resolve_labels(dataset=list)": (lambda: L.resolve_labels([1, 2, 3]), "dataset"),
    "resolve_labels(TensorDataset single)": (
        lambda: L.resolve_labels(torch.utils.data.TensorDataset(torch.zeros(3))),
        "dataset",
    ),
    "resolve_labels(TensorDataset float)": (
        lambda: L.resolve_labels(torch.utils.data.TensorDataset(torch.zeros(3), torch.zeros(3))),
        "dataset",
    ),
    "resolve_labels(length)": (
        lambda: L.resolve_labels(torch.utils.data.TensorDataset(torch.zeros(3)), labels=[0, 1]),
        "labels",
    ),
    "class_counts(empty)": (lambda: L.class_counts(torch.tensor([], dtype=torch.long)), "labels"),
    "class_counts(float)": (lambda: L.class_counts(torch.tensor([0.5])), "labels"),
    "class_counts(None)": (lambda: L.class_counts(None), "labels"),
    "class_counts(num_classes=0)": (lambda: L.class_counts(torch.tensor([0]), 0), "num_classes"),
    "class_counts(num_classes=str)": (
        lambda: L.class_counts(torch.tensor([0]), "2"),
        "num_classes",
    ),
    "class_counts(label >= num_classes)": (
        lambda: L.class_counts(torch.tensor([0, 3]), 2),
        "labels",
    ),
    "check_class_counts(None)": (lambda: L.check_class_counts(None), "counts"),
    "check_class_counts([])": (lambda: L.check_class_counts([]), "counts"),
    "check_class_counts(float)": (lambda: L.check_class_counts([1.5]), "counts"),
    "check_class_counts(zero)": (lambda: L.check_class_counts([3, 0]), "counts"),
    "check_class_counts(2-D)": (lambda: L.check_class_counts([[3]]), "counts"),
    "check_class_counts(str)": (lambda: L.check_class_counts(["3"]), "counts"),
    "shot_groups(many=str)": (lambda: L.shot_groups(COUNTS, many="100"), "many"),
    "shot_groups(few=None)": (lambda: L.shot_groups(COUNTS, few=None), "few"),
    "shot_groups(few>many)": (lambda: L.shot_groups(COUNTS, many=2, few=5), "few, many"),
    "shot_groups(few=0)": (lambda: L.shot_groups(COUNTS, few=0), "few, many"),
    "shot_groups(many=nan)": (lambda: L.shot_groups(COUNTS, many=NAN), "few, many"),
    "shot_groups(counts=None)": (lambda: L.shot_groups(None), "counts"),
    "check_shot_thresholds(bool)": (lambda: L.check_shot_thresholds(True, 1), "many"),
}
bad_table("labels", LABEL_CALLS)

# --- data: datasets and recipes -----------------------------------------------------------------

U8 = torch.zeros(6, 1, 8, 8, dtype=torch.uint8)
U8_LABELS = torch.tensor([0, 0, 0, 1, 1, 2])
NOWHERE = "/nonexistent/invtransfer-bad-calls"


def _images() -> D.TensorImages:
    return D.TensorImages(U8, U8_LABELS)


DATA_CALLS = {
    "Glyphs(num_classes=0)": (lambda: D.Glyphs(num_classes=0), "num_classes"),
    "Glyphs(num_classes=str)": (lambda: D.Glyphs(num_classes="3"), "num_classes"),
    "Glyphs(per_class=-1)": (lambda: D.Glyphs(num_classes=3, per_class=-1), "per_class"),
    "Glyphs(seed=None)": (lambda: D.Glyphs(num_classes=3, seed=None), "seed"),
    "Glyphs(split)": (lambda: D.Glyphs(num_classes=3, split="validation"), "split"),
    "longtail_counts(profile)": (lambda: D.longtail_counts("zipff", 5, 100), "profile"),
    "longtail_counts(alpha=nan)": (lambda: D.longtail_counts("zipf", 5, 100, alpha=NAN), "alpha"),
    "longtail_counts(num_classes=0)": (lambda: D.longtail_counts("zipf", 0, 100), "num_classes"),
    "longtail_counts(max_count=str)": (lambda: D.longtail_counts("zipf", 5, "100"), "max_count"),
    "TensorImages(images=list)": (lambda: D.TensorImages([1, 2], U8_LABELS), "images"),
    "TensorImages(images=float)": (lambda: D.TensorImages(U8.float(), U8_LABELS), "images"),
    "TensorImages(images=3-D)": (lambda: D.TensorImages(U8[:, 0], U8_LABELS), "images"),
    "TensorImages(targets=None)": (lambda: D.TensorImages(U8, None), "targets"),
    "TensorImages(targets short)": (lambda: D.TensorImages(U8, U8_LABELS[:3]), "targets"),
    "make_longtail(counts=float)": (lambda: D.make_longtail(_images(), [1.5, 1, 1]), "counts"),
    "make_longtail(counts=negative)": (lambda: D.make_longtail(_images(), [-1, 1, 1]), "counts"),
    "make_longtail(counts=too many)": (lambda: D.make_longtail(_images(), [9, 1, 1]), "counts"),
    "make_longtail(seed=-1)": (lambda: D.make_longtail(_images(), [1, 1, 1], seed=-1), "seed"),
    "NuisanceDataset(family=str)": (lambda: D.NuisanceDataset(_images(), "rot"), "family"),
    "WithIndex(dataset=int)": (lambda: D.WithIndex(3), "dataset"),
    "nuisance_family(rotate)": (lambda: D.nuisance_family("rotate"), "variant"),
    "summary(negative)": (lambda: D.summary([3, -1]), "counts"),
    "summary(nan)": (lambda: D.summary([3.0, NAN]), "counts"),
    "summary(empty)": (lambda: D.summary([]), "counts"),
    "glyphs_lt(variant)": (lambda: D.glyphs_lt("rotx", num_classes=3), "variant"),
    "glyphs_lt(max_count=0)": (lambda: D.glyphs_lt("rot", num_classes=3, max_count=0), "max_count"),
    "glyphs_lt(num_classes=str)": (lambda: D.glyphs_lt("rot", num_classes="3"), "num_classes"),
    "grayscale_lt(val_fraction=nan)": (
        lambda: D.grayscale_lt(_images(), _images(), "rot", val_fraction=NAN),
        "val_fraction",
    ),
    "grayscale_lt(val_per_class=0)": (
        lambda: D.grayscale_lt(_images(), _images(), "rot", val_per_class=0),
        "val_per_class",
    ),
    "grayscale_lt(val_per_class too many)": (
        lambda: D.grayscale_lt(_images(), _images(), "rot", max_count=2, val_per_class=30),
        "val_per_class",
    ),
    "mnist_lt(root missing)": (lambda: D.mnist_lt(NOWHERE, "rot"), re.escape(NOWHERE)),
    "image_folder(root missing)": (lambda: D.image_folder(NOWHERE), re.escape(NOWHERE)),
    "split_file(missing)": (lambda: D.split_file(NOWHERE, NOWHERE), re.escape(NOWHERE)),
    "find_file(names=str)": (lambda: D.find_file(NOWHERE, "x"), "names"),
    "ImageFiles(targets longer)": (lambda: D.ImageFiles(["a.png"], [0, 1]), "targets"),
}
bad_table("data", DATA_CALLS)

# --- generative -------------------------------------------------------------------------------

TINY = G.preset("tiny", image_size=8, channels=1)
GEN = G.MUNITGenerator(TINY, seed=0)
UNIT = torch.rand(6, 1, 8, 8)

GENERATIVE_CALLS = {
    "MUNITConfig(dim=0)": (lambda: G.MUNITConfig(image_size=8, channels=1, dim=0), "dim"),
    "MUNITConfig(image_size=-8)": (lambda: G.MUNITConfig(image_size=-8, channels=1), "image_size"),
    "MUNITConfig(image_size=str)": (
        lambda: G.MUNITConfig(image_size="8", channels=1),
        "image_size",
    ),
    "preset(name)": (lambda: G.preset("tinyy", image_size=8, channels=1), "name"),
    "preset(image_size=0)": (lambda: G.preset("tiny", image_size=0, channels=1), "image_size"),
    "LossWeights(image=nan)": (lambda: G.LossWeights(image=NAN), "image"),
    "LossWeights(image=str)": (lambda: G.LossWeights(image="1"), "image"),
    "MUNITGenerator(config=dict)": (lambda: G.MUNITGenerator({"dim": 3}), "config"),
    "MUNITGenerator(seed=-1)": (lambda: G.MUNITGenerator(TINY, seed=-1), "seed"),
    "MUNITDiscriminator(seed=-1)": (lambda: G.MUNITDiscriminator(TINY, seed=-1), "seed"),
    "MUNITGenerator(style rows)": (lambda: GEN(UNIT, torch.randn(5, 4)), "style"),
    "MUNITGenerator(style width)": (lambda: GEN(UNIT, torch.randn(6, 3)), "style"),
    "MUNITGenerator(x channels)": (lambda: GEN(torch.rand(2, 3, 8, 8), torch.randn(2, 4)), "x"),
    "MUNITGenerator.encode(x=3-D)": (lambda: GEN.encode(UNIT[0]), "x"),
    "MUNITTrainer(device=gpu)": (lambda: G.MUNITTrainer(TINY, NOWHERE, device="gpu"), "device"),
    "MUNITTrainer(seed=-1)": (lambda: G.MUNITTrainer(TINY, NOWHERE, seed=-1), "seed"),
    "MUNITTrainer.fit(iterations=-1)": (
        lambda: G.MUNITTrainer(TINY, NOWHERE).fit(_images(), -1, 2, progress=False),
        "iterations",
    ),
    "MUNITTrainer.fit(batch_size=0)": (
        lambda: G.MUNITTrainer(TINY, NOWHERE).fit(_images(), 2, 0, progress=False),
        "batch_size",
    ),
    "TranslationBank.build(k=0)": (
        lambda: G.TranslationBank.build(GEN, UNIT, k=0, style_dim=4),
        "k",
    ),
    "TranslationBank.build(style_dim=0)": (
        lambda: G.TranslationBank.build(GEN, UNIT, k=2, style_dim=0),
        "style_dim",
    ),
    "TranslationBank.build(translate=str)": (
        lambda: G.TranslationBank.build("g", UNIT, k=2, style_dim=4),
        "translate",
    ),
    "TranslationBank.build(data=str)": (
        lambda: G.TranslationBank.build(GEN, "x", k=2, style_dim=4),
        "data",
    ),
    "TranslationBank(images=2-D)": (lambda: G.TranslationBank(torch.rand(3, 2)), "images"),
    "GenerativeAugment(fraction=1.5)": (lambda: G.GenerativeAugment(GEN, fraction=1.5), "fraction"),
    "GenerativeAugment(fraction=nan)": (lambda: G.GenerativeAugment(GEN, fraction=NAN), "fraction"),
    "GenerativeAugment(generator=str)": (lambda: G.GenerativeAugment("g"), "generator"),
    "GenerativeAugment(gate)": (lambda: G.GenerativeAugment(GEN, gate="hard"), "gate"),
    "GenerativeAugment(seed=-1)": (lambda: G.GenerativeAugment(GEN, seed=-1), "seed"),
    "GenerativeAugment(size_threshold, no counts)": (
        lambda: G.GenerativeAugment(GEN, size_threshold=10),
        "class_counts",
    ),
    "GenerativeAugment(y short)": (lambda: G.GenerativeAugment(GEN)(UNIT, U8_LABELS[:2]), "y"),
    "GenerativeAugment.load(missing)": (
        lambda: G.GenerativeAugment.load(NOWHERE),
        re.escape(NOWHERE),
    ),
    "GenerativeAugment.set_epoch(-1)": (lambda: G.GenerativeAugment(GEN).set_epoch(-1), "epoch"),
    "load_generator(missing)": (lambda: G.load_generator(NOWHERE), re.escape(NOWHERE)),
    "translation_grid(styles=0)": (lambda: G.translation_grid(GEN, UNIT, styles=0), "styles"),
    "translation_grid(generator=str)": (lambda: G.translation_grid("g", UNIT), "generator"),
    "class_keeping(classifier=str)": (
        lambda: G.class_keeping("judge", GEN, UNIT, U8_LABELS),
        "classifier",
    ),
    "class_keeping(styles=0)": (
        lambda: G.class_keeping(torch.nn.Flatten(), GEN, UNIT, U8_LABELS, styles=0),
        "styles",
    ),
    "class_keeping(labels=list)": (
        lambda: G.class_keeping(torch.nn.Flatten(), GEN, UNIT, [0] * 6),
        "labels",
    ),
    "nuisance_coverage(images=str)": (
        lambda: G.nuisance_coverage(GEN, "x", T.Rotation()),
        "images",
    ),
    "LearnedNuisance(generator=int)": (lambda: G.LearnedNuisance(3), "generator"),
    "MUNITObjectives(config=generator)": (lambda: G.MUNITObjectives(GEN, GEN), "config"),
    "AugmentCollator(augment=str)": (lambda: G.AugmentCollator("x"), "augment"),
    "LogEvery(0)": (lambda: G.LogEvery(0), "every"),
    "CheckpointEvery(-1)": (lambda: G.CheckpointEvery(-1), "every"),
    "SamplesEvery(0)": (lambda: G.SamplesEvery(0, UNIT), "every"),
}
bad_table("generative", GENERATIVE_CALLS)

# --- models -----------------------------------------------------------------------------------

FEW_IMAGES, FEW_LABELS = torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 0])

MODEL_CALLS = {
    "build_model(name)": (lambda: Mo.build_model("resnet21", 3, (1, 8, 8)), "name"),
    "build_model(num_classes=0)": (lambda: Mo.build_model("resnet20", 0, (1, 8, 8)), "num_classes"),
    "build_model(image_shape 2-D)": (lambda: Mo.build_model("resnet20", 3, (8, 8)), "image_shape"),
    "build_model(seed=-1)": (lambda: Mo.build_model("resnet20", 3, (1, 8, 8), seed=-1), "seed"),
    "build_model(weights missing)": (
        lambda: Mo.build_model("resnet20", 3, (1, 8, 8), weights=NOWHERE),
        "weights",
    ),
    "resnet20(num_classes=0)": (lambda: Mo.resnet20(0), "num_classes"),
    "resnet20(shortcut=C)": (lambda: Mo.resnet20(3, shortcut="C"), "shortcut"),
    "resnet32(seed=-1)": (lambda: Mo.resnet32(3, seed=-1), "seed"),
    "cifar_resnet(depth=21)": (lambda: Mo.cifar_resnet(21, 3), "depth"),
    "small_cnn(num_classes=0)": (lambda: Mo.small_cnn(0), "num_classes"),
    "small_cnn(in_channels=0)": (lambda: Mo.small_cnn(3, in_channels=0), "in_channels"),
    "CifarResNet(widths with 0)": (lambda: Mo.CifarResNet(20, 3, widths=(16, 0, 64)), "widths"),
    "BasicBlock(in_channels=0)": (lambda: Mo.BasicBlock(0, 16), "in_channels"),
    "BasicBlock(stride=0)": (lambda: Mo.BasicBlock(16, 16, stride=0), "stride"),
    "train_classifier(model=str)": (
        lambda: Mo.train_classifier("m", FEW_IMAGES, FEW_LABELS, 1),
        "model",
    ),
    "train_classifier(images=3-D)": (
        lambda: Mo.train_classifier(Mo.small_cnn(3), FEW_IMAGES[:, 0], FEW_LABELS, 1),
        "images",
    ),
    "train_classifier(images=nan)": (
        lambda: Mo.train_classifier(Mo.small_cnn(3), FEW_IMAGES * NAN, FEW_LABELS, 1),
        "images",
    ),
    "train_classifier(labels=float)": (
        lambda: Mo.train_classifier(Mo.small_cnn(3), FEW_IMAGES, FEW_LABELS.float(), 1),
        "labels",
    ),
    "train_classifier(labels short)": (
        lambda: Mo.train_classifier(Mo.small_cnn(3), FEW_IMAGES, FEW_LABELS[:2], 1),
        "labels",
    ),
    "train_classifier(labels >= classes)": (
        lambda: Mo.train_classifier(Mo.small_cnn(3), FEW_IMAGES, FEW_LABELS + 3, 1),
        "labels",
    ),
    "train_classifier(epochs=0)": (
        lambda: Mo.train_classifier(Mo.small_cnn(3), FEW_IMAGES, FEW_LABELS, 0),
        "epochs",
    ),
    "train_classifier(batch_size=0)": (
        lambda: Mo.train_classifier(Mo.small_cnn(3), FEW_IMAGES, FEW_LABELS, 1, batch_size=0),
        "batch_size",
    ),
    "train_classifier(lr=nan)": (
        lambda: Mo.train_classifier(Mo.small_cnn(3), FEW_IMAGES, FEW_LABELS, 1, lr=NAN),
        "lr",
    ),
    "train_classifier(generator=int)": (
        lambda: Mo.train_classifier(Mo.small_cnn(3), FEW_IMAGES, FEW_LABELS, 1, generator=3),
        "generator",
    ),
}
bad_table("models", MODEL_CALLS)

# --- experiments ------------------------------------------------------------------------------

EXPERIMENT_CALLS = {
    "ExperimentConfig.with_overrides(epochs=-1)": (
        lambda: E.ExperimentConfig().with_overrides(["train.epochs=-1"]),
        "train.epochs",
    ),
    "ExperimentConfig.from_file(missing)": (
        lambda: E.ExperimentConfig.from_file(f"{NOWHERE}.toml"),
        re.escape(NOWHERE),
    ),
    "DataConfig(recipe)": (lambda: E.DataConfig("mnist-lt"), "data.recipe"),
    "load_data(config=str)": (lambda: E.load_data("glyphs_lt"), "config"),
    "load_data(seed=-1)": (lambda: E.load_data(E.DataConfig("glyphs_lt"), seed=-1), "seed"),
    "replicates(config=str)": (lambda: E.replicates("x"), "config"),
    "method_parts(name)": (lambda: E.method_parts("ce_drss", [3, 2, 1], 2), "method"),
    "method_parts(class_counts negative)": (
        lambda: E.method_parts("ce", [3, -2, 1], 2),
        "class_counts",
    ),
    "method_parts(defer_epoch=-1)": (lambda: E.method_parts("ce", [3, 2, 1], -1), "defer_epoch"),
    "lr_factor(epoch=-1)": (lambda: E.lr_factor(-1, 5, [10], 0.1), "epoch"),
    "lr_factor(gamma=nan)": (lambda: E.lr_factor(1, 5, [10], NAN), "gamma"),
    "warmup_step_lr(optimizer=str)": (lambda: E.warmup_step_lr("opt", 5, [10], 0.1), "optimizer"),
    "warmup_step_lr(milestones=str)": (
        lambda: E.warmup_step_lr(torch.optim.SGD([torch.zeros(1)], 0.1), 5, ["10"], 0.1),
        "milestones",
    ),
    "compare_runs(column)": (lambda: E.compare_runs([], "ce", "ce_drs", "x"), "column"),
    "method_table(runs=str)": (lambda: E.method_table("x", ["ce"]), "runs"),
    "load_run(missing)": (lambda: E.load_run(NOWHERE, "ce", 0), re.escape(NOWHERE)),
    "load_run(method ../x)": (lambda: E.load_run(NOWHERE, "../x", 0), "method"),
    "run_experiment(config=str)": (lambda: E.run_experiment("x", NOWHERE), "config"),
    "run_experiment(seeds not the config's)": (
        lambda: E.run_experiment(E.ExperimentConfig(), NOWHERE, seeds=[7]),
        "seeds",
    ),
    "write_report(no runs)": (lambda: E.write_report(NOWHERE), re.escape(NOWHERE)),
    "study_summary(no runs)": (lambda: E.study_summary(NOWHERE), re.escape(NOWHERE)),
    "measured_nuisance(config=str)": (lambda: E.measured_nuisance("x", None), "config"),
    "evaluate_run(data=None)": (
        lambda: E.evaluate_run(Mo.small_cnn(3), None, E.EvaluationConfig(), 0),
        "data",
    ),
    "generator_quality(config=str)": (
        lambda: E.generator_quality(Mo.small_cnn(3), GEN, None, "x", 0),
        "config",
    ),
    "check_settings(config=str)": (lambda: E.check_settings("x", None, "cpu"), "config"),
    "train_run(data=None)": (
        lambda: E.train_run(E.ExperimentConfig(), None, "ce", 0, NOWHERE),
        "data",
    ),
}
bad_table("experiments", EXPERIMENT_CALLS)

# --- checkpoint -------------------------------------------------------------------------------

LINEAR = torch.nn.Linear(2, 2)
CHECKPOINTS = C.Checkpoints(NOWHERE, "epoch")

CHECKPOINT_CALLS = {
    "Checkpoints(folder=None)": (lambda: C.Checkpoints(None, "e"), "folder"),
    "Checkpoints(stem=../x)": (lambda: C.Checkpoints(NOWHERE, "../x"), "stem"),
    "Checkpoints(stem=None)": (lambda: C.Checkpoints(NOWHERE, None), "stem"),
    "Checkpoints(keep=0)": (lambda: C.Checkpoints(NOWHERE, "e", keep=0), "keep"),
    "Checkpoints(digits=0)": (lambda: C.Checkpoints(NOWHERE, "e", digits=0), "digits"),
    "Checkpoints(spare=int)": (lambda: C.Checkpoints(NOWHERE, "e", spare=3), "spare"),
    "Checkpoints(spare=[-1])": (lambda: C.Checkpoints(NOWHERE, "e", spare=[-1]), "spare"),
    "Checkpoints.path(-1)": (lambda: CHECKPOINTS.path(-1), "step"),
    "Checkpoints.path(str)": (lambda: CHECKPOINTS.path("1"), "step"),
    "Checkpoints.save(step=-1)": (lambda: CHECKPOINTS.save(-1, {"m": LINEAR}), "step"),
    "Checkpoints.save(modules=list)": (lambda: CHECKPOINTS.save(1, [LINEAR]), "modules"),
    "Checkpoints.save(module=str)": (lambda: CHECKPOINTS.save(1, {"m": "x"}), "modules"),
    "Checkpoints.save(module name ../)": (lambda: CHECKPOINTS.save(1, {"../m": LINEAR}), "modules"),
    "Checkpoints.save(optimizer=module)": (
        lambda: CHECKPOINTS.save(1, {"m": LINEAR}, {"o": LINEAR}),
        "optimizers",
    ),
    "Checkpoints.save(state=set)": (
        lambda: CHECKPOINTS.save(1, {"m": LINEAR}, state={"x": {1}}),
        "state",
    ),
    "Checkpoints.save(state reserved key)": (
        lambda: CHECKPOINTS.save(1, {"m": LINEAR}, state={"optimizers": 1}),
        "state",
    ),
    "Checkpoints.step_of(other)": (lambda: CHECKPOINTS.step_of(NOWHERE), "path"),
    "Checkpoints.load(missing)": (
        lambda: CHECKPOINTS.load(CHECKPOINTS.path(9), {"m": LINEAR}),
        re.escape(NOWHERE),
    ),
    "Checkpoints.fork(not a checkpoint)": (lambda: CHECKPOINTS.fork(NOWHERE), "source"),
    "latest_numbered(stem=../e)": (lambda: C.latest_numbered(NOWHERE, "../e"), "stem"),
    "latest_numbered(folder=None)": (lambda: C.latest_numbered(None, "e"), "folder"),
    "prune_numbered(keep=0)": (lambda: C.prune_numbered(NOWHERE, "e", keep=0), "keep"),
    "prune_numbered(stem=a/b)": (lambda: C.prune_numbered(NOWHERE, "a/b", keep=1), "stem"),
    "read_tensors(name=../x)": (lambda: C.read_tensors(NOWHERE, "../x"), "name"),
    "read_tensors(missing)": (lambda: C.read_tensors(NOWHERE, "x"), re.escape(NOWHERE)),
    "read_json(name=None)": (lambda: C.read_json(NOWHERE, None), "name"),
    "read_json(folder=None)": (lambda: C.read_json(None, "x"), "folder"),
    "load_module(module=str)": (lambda: C.load_module("m", NOWHERE, "x"), "module"),
    "optimizer_to_files(list)": (lambda: C.optimizer_to_files([1]), "state"),
    "optimizer_to_files(no param_groups)": (lambda: C.optimizer_to_files({"state": {}}), "state"),
    "optimizer_from_files(document={})": (lambda: C.optimizer_from_files({}, {}), "document"),
    "optimizer_from_files(tensors=str)": (
        lambda: C.optimizer_from_files("x", {"state": {}, "param_groups": []}),
        "tensors",
    ),
    "non_finite(list)": (lambda: C.non_finite([1]), "tensors"),
}
bad_table("checkpoint", CHECKPOINT_CALLS)

# --- readers and predict (files are made per test in tmp_path) ---------------------------------


IDX_FILES = {
    "magic": b"\x01\x00\x08\x01" + bytes(4),
    "type byte": b"\x00\x00\x07\x01" + (1).to_bytes(4, "big") + b"\x00",
    "truncated header": b"\x00\x00\x08\x03" + bytes(4),
    "zero dimension": b"\x00\x00\x08\x02" + (0).to_bytes(4, "big") + (3).to_bytes(4, "big"),
    "overflow": b"\x00\x00\x08\x03" + b"\xff\xff\xff\xff" * 3 + bytes(12),
    "short body": b"\x00\x00\x08\x01" + (5).to_bytes(4, "big") + bytes(3),
    "long body": b"\x00\x00\x08\x01" + (2).to_bytes(4, "big") + bytes(3),
    "empty": b"",
}
IDX_KINDS = {
    "float labels": (
        b"\x00\x00\x0d\x01" + (2).to_bytes(4, "big") + np.array([0.9, 1.0], ">f4").tobytes(),
        "labels",
    ),
    "int32 images above 255": (
        b"\x00\x00\x0c\x03"
        + b"".join(n.to_bytes(4, "big") for n in (1, 1, 2))
        + np.array([1000, 3], ">i4").tobytes(),
        "images",
    ),
    "negative labels": (
        b"\x00\x00\x09\x01" + (2).to_bytes(4, "big") + np.array([-1, 3], "i1").tobytes(),
        "labels",
    ),
    "2-D labels": (
        b"\x00\x00\x08\x02" + (1).to_bytes(4, "big") + (2).to_bytes(4, "big") + bytes(2),
        "labels",
    ),
    "1-D images": (b"\x00\x00\x08\x01" + (2).to_bytes(4, "big") + bytes(2), "images"),
    "float images": (
        b"\x00\x00\x0e\x03"
        + b"".join(n.to_bytes(4, "big") for n in (1, 1, 1))
        + np.array([0.5], ">f8").tobytes(),
        "images",
    ),
}
NPZ_ARRAYS = {
    "float labels": (np.array([0.9, 1.0]), "labels"),
    "int32 labels negative": (np.array([-3, 1], np.int32), "labels"),
    "float images": (np.full((1, 2, 2), 0.5), "images"),
    "int32 images 1000": (np.full((1, 2, 2), 1000, np.int32), "images"),
    "bool labels": (np.array([True, False]), "labels"),
    "string array": (np.array(["a", "b"]), None),
}


def _write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- the table --------------------------------------------------------------------------------


@pytest.mark.parametrize(("call", "name"), ROWS)
def test_bad_call_names_its_argument(call, name):
    with pytest.raises(ERRORS) as error:
        call()
    assert re.match(rf"(?:{name})\b", str(error.value)), str(error.value)


@pytest.mark.parametrize("case", list(IDX_FILES))
@pytest.mark.parametrize("gz", [False, True])
def test_malformed_idx_names_the_file(tmp_path, case, gz):
    data = IDX_FILES[case]
    path = _write(
        tmp_path,
        f"{case.replace(' ', '-')}-idx" + (".gz" if gz else ""),
        gzip.compress(data) if gz else data,
    )
    with pytest.raises(ValueError, match=re.escape(str(path))) as error:
        readers.read_idx(path)
    assert "expected -" not in str(error.value)  # no overflowed size


@pytest.mark.parametrize("case", list(IDX_KINDS))
def test_idx_values_that_a_cast_would_change_are_refused(tmp_path, case):
    data, kind = IDX_KINDS[case]
    path = _write(tmp_path, "values-idx", data)
    with pytest.raises(ValueError, match=re.escape(str(path))):
        readers.read_idx(path, kind=kind)


@pytest.mark.parametrize("case", list(NPZ_ARRAYS))
def test_npz_values_that_a_cast_would_change_are_refused(tmp_path, case):
    array, kind = NPZ_ARRAYS[case]
    path = tmp_path / "data.npz"
    np.savez(path, array)
    with pytest.raises(ValueError, match=re.escape(str(path))):
        readers.read_npz(path, kind=kind)


READER_CALLS = {
    "read_idx(missing)": (lambda root: readers.read_idx(root / "nope-idx"), "nope-idx"),
    "read_idx(None)": (lambda root: readers.read_idx(None), "path"),
    "read_idx(int)": (lambda root: readers.read_idx(3), "path"),
    "read_idx(kind)": (lambda root: readers.read_idx(root / "x", kind="pixels"), "kind"),
    "read_npz(missing)": (lambda root: readers.read_npz(root / "nope.npz"), "nope.npz"),
    "read_npz(None)": (lambda root: readers.read_npz(None), "path"),
    "read_npz(key=None)": (lambda root: readers.read_npz(root / "x.npz", key=None), "key"),
    "read_npz(kind)": (lambda root: readers.read_npz(root / "x.npz", kind=1), "kind"),
    "read_npz(not a zip)": (
        lambda root: readers.read_npz(_write(root, "bad.npz", b"junk")),
        "bad.npz",
    ),
    "read_npz(no key)": (lambda root: readers.read_npz(_savez(root), key="labels"), "arrays.npz"),
    "find_file(none)": (
        lambda root: readers.find_file(root, ["a", "b"]),
        re.escape("expected one of"),
    ),
    "find_file(root None)": (lambda root: readers.find_file(None, ["a"]), "root"),
    "find_file(names str)": (lambda root: readers.find_file(root, "ab"), "names"),
    "find_file(names None)": (lambda root: readers.find_file(root, [None]), "names"),
}


def _savez(root):
    path = root / "arrays.npz"
    np.savez(path, np.zeros(2))
    return path


@pytest.mark.parametrize("case", list(READER_CALLS))
def test_bad_reader_call_names_its_argument_or_file(tmp_path, case):
    call, name = READER_CALLS[case]
    with pytest.raises(ERRORS, match=name):
        call(tmp_path)


PREDICT_CALLS = {
    "model None": (lambda data: predict(None, data), "model"),
    "batch_size 0": (lambda data: predict(_model(), data, batch_size=0), "batch_size"),
    "batch_size str": (lambda data: predict(_model(), data, batch_size="8"), "batch_size"),
    "workers -1": (lambda data: predict(_model(), data, workers=-1), "workers"),
    "int32 images": (
        lambda data: predict(_model(), _dataset(torch.zeros(2, 1, 2, 2, dtype=torch.int32))),
        "dataset",
    ),
}


def _model():
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))


def _dataset(images):
    return torch.utils.data.TensorDataset(images, torch.tensor([0, 1]))


@pytest.mark.parametrize("case", list(PREDICT_CALLS))
def test_bad_predict_call_names_its_argument(case):
    call, name = PREDICT_CALLS[case]
    with pytest.raises(ERRORS, match=name):
        call(_dataset(torch.rand(2, 1, 2, 2)))


# --- behaviour the fixes pin ---------------------------------------------------------------------


def test_predict_leaves_the_callers_float_images_unchanged_and_unscaled():
    images = torch.rand(2, 1, 2, 2)
    before = images.clone()
    model = _model()
    logits, labels = predict(model, _dataset(images))
    assert torch.equal(images, before)
    torch.testing.assert_close(logits, model(before))
    assert labels.tolist() == [0, 1] and model.training


def test_predict_scales_uint8_images():
    images = torch.tensor([[[[0, 255], [51, 102]]]] * 2, dtype=torch.uint8)
    model = _model()
    logits, _ = predict(model, _dataset(images))
    torch.testing.assert_close(logits, model(images.float() / 255))


def test_readers_convert_without_loss_when_the_values_fit(tmp_path):
    path = tmp_path / "labels.npz"
    np.savez(path, np.array([3, 0, 48], np.int32))
    labels = readers.read_npz(path, kind="labels")
    assert labels.dtype == torch.int64 and labels.tolist() == [3, 0, 48]
    np.savez(path, np.array([[[0, 255]]], np.int32))
    images = readers.read_npz(path, kind="images")
    assert images.dtype == torch.uint8 and images.tolist() == [[[0, 255]]]


def test_feature_distance_with_a_given_scale_accepts_identical_clean_rows():
    clean = torch.ones(3, 2)
    assert (
        M.feature_distance(clean, clean + torch.tensor([3.0, 4.0]), scale=5.0).tolist() == [1.0] * 3
    )


def test_every_module_has_its_share_of_bad_calls():
    counts = Counter(row.id.split(":")[0] for row in ROWS)
    counts["readers"] = 2 * len(IDX_FILES) + len(IDX_KINDS) + len(NPZ_ARRAYS) + len(READER_CALLS)
    counts["experiments.predict"] = len(PREDICT_CALLS)
    assert len({row.id for row in ROWS}) == len(ROWS)  # every row distinct
    modules = {"transforms", "sampling", "losses", "metrics", "labels", "readers", "data"}
    modules |= {"generative", "models", "experiments", "experiments.predict", "checkpoint"}
    assert set(counts) == modules  # every public module
    assert min(counts.values()) >= 5 and sum(counts.values()) >= 400, counts


# --- hypothesis: any non-finite parameter, anywhere in a batch, is refused by apply ------------


@settings(max_examples=40, deadline=None)
@given(
    family=st.sampled_from([f for f in FAMILIES if type(f).__name__ != "Saturation"]),
    row=st.integers(0, 1),
    value=st.sampled_from([NAN, INF, -INF]),
)
def test_apply_refuses_any_non_finite_parameter(family, row, value):
    flat = family.identity(2).to_dict()
    fields = [name for name, tensor in flat.items() if tensor.is_floating_point()]
    if not fields:
        return
    field = fields[0]
    flat[field] = flat[field].clone()
    flat[field].view(2, -1)[row, 0] = value
    with pytest.raises(ValueError, match=re.escape(f"params.{field}: expected finite values")):
        family.apply(X, T.Params.from_dict(flat))


@settings(max_examples=60, deadline=None)
@given(
    value=st.one_of(
        st.none(),
        st.text(max_size=3),
        st.floats(allow_nan=True).filter(lambda v: not math.isfinite(v)),
    )
)
def test_sampler_power_must_be_a_finite_number(value):
    with pytest.raises((ValueError, TypeError), match=r"^power: expected"):
        S.ClassBalancedSampler(LABELS, power=value)


@settings(max_examples=60, deadline=None)
@given(seed=st.one_of(st.integers(max_value=-1), st.floats(), st.none(), st.booleans()))
def test_a_bad_seed_is_named_seed(seed):
    with pytest.raises(ValueError, match=r"^seed: expected an int >= 0"):
        M.bootstrap_interval(torch.ones(3), seed)
