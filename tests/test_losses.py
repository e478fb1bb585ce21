"""Long-tail losses match their formulas, handle schedules, empty classes, ignore_index, devices
and dtypes, and reject bad input with clear messages."""

from __future__ import annotations

import math
from functools import partial

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torchvision.ops import sigmoid_focal_loss

from invtransfer.losses import (
    BalancedSoftmaxLoss,
    ClassBalancedLoss,
    FocalLoss,
    LDAMLoss,
    LogitAdjustedLoss,
    WeightedCrossEntropy,
    adjust_logits,
)
from invtransfer.sampling.schedules import Constant, Deferred, Linear

COUNTS = [50, 10, 1]

LOSSES = {
    "weighted_ce": lambda counts, **kw: WeightedCrossEntropy(counts, **kw),
    "weighted_ce_smoothed": lambda counts, **kw: WeightedCrossEntropy(
        counts, method="inverse_sqrt", label_smoothing=0.1, **kw
    ),
    "focal": lambda counts, **kw: FocalLoss(
        gamma=2.0, alpha=[0.2, 0.3, 0.5], **{k: v for k, v in kw.items() if k != "empty"}
    ),
    "cb_softmax": lambda counts, **kw: ClassBalancedLoss(counts, beta=0.99, **kw),
    "cb_sigmoid": lambda counts, **kw: ClassBalancedLoss(counts, loss_type="sigmoid", **kw),
    "cb_focal": lambda counts, **kw: ClassBalancedLoss(counts, loss_type="focal", gamma=2.0, **kw),
    "ldam": lambda counts, **kw: LDAMLoss(counts, **kw),
    "ldam_drw": lambda counts, **kw: LDAMLoss(counts, schedule=1.0, **kw),
    "logit_adjusted": lambda counts, **kw: LogitAdjustedLoss(counts, tau=0.7, **kw),
    "balanced_softmax": lambda counts, **kw: BalancedSoftmaxLoss(counts, **kw),
}
"""Every loss, built from class counts and keyword arguments (FocalLoss takes no counts)."""

COUNTED = [name for name in LOSSES if name != "focal"]


def cross_entropy_by_hand(row: list[float], label: int) -> float:
    """-log softmax(row)[label], in plain Python."""
    return math.log(sum(math.exp(z) for z in row)) - row[label]


def batch(seed: int = 0, n: int = 6, classes: int = 3, scale: float = 2.0):
    generator = torch.Generator().manual_seed(seed)
    logits = scale * torch.randn(n, classes, generator=generator, dtype=torch.float64)
    return logits, torch.randint(classes, (n,), generator=generator)


# --- each loss against its formula ------------------------------------------------------------


def test_weighted_cross_entropy_by_hand():
    # inverse weights of [3, 1] are [1/3, 1]; normalised to sum to 2: [0.5, 1.5]
    rows, labels = [[1.0, 0.0], [0.0, 1.0], [0.5, -0.5]], [0, 1, 1]
    weights = [0.5, 1.5]
    per_sample = [
        weights[y] * cross_entropy_by_hand(r, y) for r, y in zip(rows, labels, strict=True)
    ]
    loss = WeightedCrossEntropy([3, 1], method="inverse", reduction="none")
    logits, target = torch.tensor(rows, dtype=torch.float64), torch.tensor(labels)
    assert loss(logits.float(), target).tolist() == pytest.approx(per_sample, rel=1e-6)
    loss.reduction = "mean"
    expected = sum(per_sample) / sum(weights[y] for y in labels)
    assert loss(logits, target).item() == pytest.approx(expected, rel=1e-6)
    smoothed = WeightedCrossEntropy([3, 1], method="inverse", label_smoothing=0.2)
    reference = F.cross_entropy(
        logits, target, weight=torch.tensor([0.5, 1.5]).double(), label_smoothing=0.2
    )
    assert smoothed(logits, target).item() == pytest.approx(reference.item(), rel=1e-6)


def test_weighted_cross_entropy_deferred_reweighting_switches_at_the_epoch():
    logits, target = batch()
    loss = WeightedCrossEntropy(COUNTS, schedule=Deferred(3, before=0.0, after=1.0))
    unweighted = F.cross_entropy(logits, target).item()
    weighted = F.cross_entropy(logits, target, weight=loss.class_weight.double()).item()
    assert loss.strength == 0.0  # the schedule at epoch 0, before any set_epoch
    for epoch, expected in [(0, unweighted), (2, unweighted), (3, weighted), (200, weighted)]:
        loss.set_epoch(epoch)
        assert loss(logits, target).item() == pytest.approx(expected, rel=1e-6)
        assert loss(logits, target).item() == pytest.approx(expected, rel=1e-6)  # no advance
    halfway = WeightedCrossEntropy(COUNTS, schedule=Linear(0, 10, start=0.0, end=1.0))
    halfway.set_epoch(5)
    mixed = 0.5 + 0.5 * halfway.class_weight.double()
    expected = F.cross_entropy(logits, target, weight=mixed).item()
    assert halfway(logits, target).item() == pytest.approx(expected, rel=1e-6)
    assert WeightedCrossEntropy(COUNTS, schedule=0.25).strength == 0.25
    assert WeightedCrossEntropy(COUNTS).strength == 1.0


def test_focal_loss_by_hand():
    rows, labels, alpha, gamma = [[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [0, 0, 1], [0.25, 0.75], 1.5
    per_sample = []
    for row, label in zip(rows, labels, strict=True):
        p = math.exp(row[label]) / sum(math.exp(z) for z in row)
        per_sample.append(-alpha[label] * (1 - p) ** gamma * math.log(p))
    logits, target = torch.tensor(rows), torch.tensor(labels)
    loss = FocalLoss(gamma=gamma, alpha=alpha, reduction="none")
    assert loss(logits, target).tolist() == pytest.approx(per_sample, rel=1e-5)
    loss.reduction = "mean"
    expected = sum(per_sample) / sum(alpha[y] for y in labels)
    assert loss(logits, target).item() == pytest.approx(expected, rel=1e-5)
    # a confident, correct sample: p = 1 in float32; the loss and its gradient stay finite
    confident = torch.tensor([[200.0, 0.0]], requires_grad=True)
    value = FocalLoss(gamma=0.5)(confident, torch.tensor([0]))
    value.backward()
    assert value.item() == 0.0 and torch.isfinite(confident.grad).all()


def test_class_balanced_loss_by_hand():
    # counts [2, 1], beta 0.5: (1 - b) / (1 - b^n) = [2/3, 1], normalised to sum to 2: [0.8, 1.2]
    weights, gamma = [0.8, 1.2], 2.0
    rows, labels = [[1.0, -1.0], [0.5, 0.0], [0.0, 2.0]], [0, 1, 1]
    logits, target = torch.tensor(rows), torch.tensor(labels)

    def sigmoid(z):
        return 1 / (1 + math.exp(-z))

    def by_hand(loss_type, label, row):
        if loss_type == "softmax":
            return cross_entropy_by_hand(row, label)
        total = 0.0
        for c, z in enumerate(row):
            p_t = sigmoid(z) if c == label else 1 - sigmoid(z)
            focus = (1 - p_t) ** gamma if loss_type == "focal" else 1.0
            total += -focus * math.log(p_t)
        return total

    for loss_type in ("softmax", "sigmoid", "focal"):
        loss = ClassBalancedLoss([2, 1], beta=0.5, loss_type=loss_type, gamma=gamma)
        assert loss.class_weight.tolist() == pytest.approx(weights)
        per_sample = [
            weights[y] * by_hand(loss_type, y, r) for r, y in zip(rows, labels, strict=True)
        ]
        expected = sum(per_sample) / sum(weights[y] for y in labels)
        assert loss(logits, target).item() == pytest.approx(expected, rel=1e-5), loss_type
        loss.reduction = "none"
        assert loss(logits, target).tolist() == pytest.approx(per_sample, rel=1e-5), loss_type
    gamma_zero = ClassBalancedLoss([2, 1], beta=0.5, loss_type="focal", gamma=0.0)
    sigmoid_loss = ClassBalancedLoss([2, 1], beta=0.5, loss_type="sigmoid")
    assert gamma_zero(logits, target).item() == pytest.approx(sigmoid_loss(logits, target).item())


def test_class_balanced_batch_mean_divides_by_the_samples_that_count():
    # Cui et al.'s mean: sum(w_y * l) / N over the N non-ignored samples, where "mean" is
    # the weighted mean sum(w_y * l) / sum(w_y)
    counts, ignored = [40, 8, 2], -1
    logits, target = batch(11, n=8)
    target[[2, 5]] = ignored
    kept = target != ignored
    safe = torch.where(kept, target, 0)
    one_hot = F.one_hot(safe, 3).double()
    per_sample = {
        "softmax": F.cross_entropy(logits, safe, reduction="none"),
        "sigmoid": F.binary_cross_entropy_with_logits(logits, one_hot, reduction="none").sum(1),
        "focal": sigmoid_focal_loss(logits, one_hot, alpha=-1, gamma=2.0, reduction="none").sum(1),
    }
    for loss_type, losses in per_sample.items():
        build = partial(ClassBalancedLoss, counts, 0.9, loss_type, gamma=2.0, ignore_index=ignored)
        weighted = (build().class_weight.double()[safe] * losses)[kept]
        batch_mean = build(reduction="batch_mean")(logits, target)
        torch.testing.assert_close(batch_mean, weighted.sum() / 6, msg=loss_type)
        weight_sum = build().class_weight.double()[target[kept]].sum()
        torch.testing.assert_close(build()(logits, target), weighted.sum() / weight_sum)
        assert not torch.isclose(batch_mean, weighted.sum() / weight_sum), loss_type
    # a batch of tail samples weighs more under Cui et al.'s mean, not under the weighted one
    tail = torch.tensor([2, 2])
    cui = ClassBalancedLoss(counts, 0.9, reduction="batch_mean")(torch.zeros(2, 3), tail)
    assert cui.item() == pytest.approx(ClassBalancedLoss(counts, 0.9).class_weight[2] * math.log(3))
    assert ClassBalancedLoss(counts, 0.9)(torch.zeros(2, 3), tail).item() == pytest.approx(
        math.log(3)
    )


def test_only_class_balanced_loss_offers_batch_mean():
    with pytest.raises(ValueError, match=r"reduction: expected one of .*'batch_mean'.*'avg'"):
        ClassBalancedLoss([3, 1], reduction="avg")
    for name in LOSSES:
        if name.startswith("cb_"):
            continue
        with pytest.raises(ValueError, match="reduction: expected one of") as error:
            LOSSES[name](COUNTS, reduction="avg")
        assert "batch_mean" not in str(error.value), name
        with pytest.raises(ValueError, match="received 'batch_mean'"):
            LOSSES[name](COUNTS, reduction="batch_mean")


def test_ldam_by_hand():
    # counts [16, 1]: n^(-1/4) = [0.5, 1], rescaled so the largest is max_m = 0.5: [0.25, 0.5]
    loss = LDAMLoss([16, 1], max_m=0.5, s=2.0, reduction="none")
    assert loss.margin.tolist() == pytest.approx([0.25, 0.5])
    logits, target = torch.tensor([[1.0, 0.5], [1.0, 0.0]]), torch.tensor([0, 1])
    # sample 0: [1 - 0.25, 0.5] * 2 = [1.5, 1.0]; sample 1: [1, 0 - 0.5] * 2 = [2, -1]
    expected = [cross_entropy_by_hand([1.5, 1.0], 0), cross_entropy_by_hand([2.0, -1.0], 1)]
    assert loss(logits, target).tolist() == pytest.approx(expected, rel=1e-6)
    loss.reduction = "mean"
    assert loss(logits, target).item() == pytest.approx(sum(expected) / 2, rel=1e-6)


def test_ldam_deferred_reweighting_switches_at_the_epoch():
    logits, target = batch(1)
    loss = LDAMLoss(COUNTS, s=5.0, beta=0.99, schedule=Deferred(2, before=0.0, after=1.0))
    unweighted = LDAMLoss(COUNTS, s=5.0, beta=0.99)
    assert loss(logits, target).item() == pytest.approx(unweighted(logits, target).item())
    loss.set_epoch(2)
    per_sample = LDAMLoss(COUNTS, s=5.0, reduction="none")(logits, target)
    weight = loss.class_weight.double()[target]
    expected = (weight * per_sample).sum() / weight.sum()
    assert loss(logits, target).item() == pytest.approx(expected.item(), rel=1e-6)
    loss.set_epoch(1)
    assert loss(logits, target).item() == pytest.approx(unweighted(logits, target).item())


def test_logit_adjusted_by_hand_and_balanced_softmax_is_tau_one():
    rows, labels, tau = [[1.0, 0.0], [0.0, 0.0]], [0, 1], 0.5
    log_prior = [math.log(0.75), math.log(0.25)]
    shifted = [[z + tau * lp for z, lp in zip(row, log_prior, strict=True)] for row in rows]
    expected = [cross_entropy_by_hand(r, y) for r, y in zip(shifted, labels, strict=True)]
    logits, target = torch.tensor(rows), torch.tensor(labels)
    loss = LogitAdjustedLoss([3, 1], tau=tau, reduction="none")
    assert loss(logits, target).tolist() == pytest.approx(expected, rel=1e-6)
    logits, target = batch(2)
    target[0] = -100
    for reduction in ("none", "sum", "mean"):
        balanced = BalancedSoftmaxLoss(COUNTS, reduction=reduction)(logits, target)
        adjusted = LogitAdjustedLoss(COUNTS, tau=1.0, reduction=reduction)(logits, target)
        torch.testing.assert_close(balanced, adjusted)
    assert isinstance(BalancedSoftmaxLoss(COUNTS), LogitAdjustedLoss)


def test_adjust_logits_undoes_the_prior():
    counts = torch.tensor([6, 3, 1])
    log_prior = (counts / counts.sum()).log().double()
    logits = batch(3)[0]
    torch.testing.assert_close(adjust_logits(logits + log_prior, counts), logits)
    torch.testing.assert_close(adjust_logits(logits, counts, tau=0.0), logits)
    torch.testing.assert_close(adjust_logits(2.0 * log_prior, counts, tau=2.0), 0 * log_prior)
    assert adjust_logits(torch.zeros(4, 2, 3), counts).shape == (4, 2, 3)


# --- empty classes ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", COUNTED)
def test_empty_class_is_an_error_by_default(name):
    with pytest.raises(ValueError, match=r"at least 1 example, received 0 for classes \[1, 3\]"):
        LOSSES[name]([5, 0, 2, 0])
    with pytest.raises(ValueError, match="empty='as_one'"):
        LOSSES[name]([5, 0, 2, 0])


@pytest.mark.parametrize("name", COUNTED)
def test_empty_class_as_one_gives_finite_losses_and_gradients(name):
    loss = LOSSES[name]([500, 0, 3], empty="as_one")
    assert loss.class_counts.tolist() == [500, 1, 3]
    logits = (30 * torch.randn(8, 3, generator=torch.Generator().manual_seed(0))).requires_grad_()
    value = loss(logits, torch.tensor([0, 1, 2, 1, 0, 1, 2, 1]))
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(logits.grad).all()
    for buffer in loss.buffers():
        assert torch.isfinite(buffer.double()).all()
    torch.testing.assert_close(
        adjust_logits(logits.detach(), [500, 0, 3], empty="as_one"),
        adjust_logits(logits.detach(), [500, 1, 3]),
    )


# --- devices, dtypes, state -------------------------------------------------------------------


@pytest.mark.parametrize("name", list(LOSSES))
def test_dtype_device_and_state_dict(name):
    loss = LOSSES[name](COUNTS).to(torch.float64).to("cpu")
    for buffer_name, buffer in loss.named_buffers():
        expected = torch.int64 if buffer_name == "class_counts" else torch.float64
        assert buffer.dtype == expected and buffer.device.type == "cpu", buffer_name
    logits, target = batch(4)
    value = loss(logits, target)
    assert value.dtype == torch.float64 and value.ndim == 0
    state = loss.state_dict()
    if name != "focal":
        assert state["class_counts"].tolist() == COUNTS
    fresh = LOSSES[name]([7, 7, 7]).to(torch.float64) if name != "focal" else LOSSES[name](None)
    fresh.load_state_dict(state)
    fresh = fresh.to(torch.float64)
    torch.testing.assert_close(fresh(logits, target), value)
    assert loss.float()(logits.float(), target).dtype == torch.float32


@pytest.mark.parametrize("name", list(LOSSES))
def test_accepts_any_integer_target_dtype(name):
    logits, target = batch(5)
    loss = LOSSES[name](COUNTS)
    torch.testing.assert_close(loss(logits, target.int()), loss(logits, target))


# --- reductions and ignore_index --------------------------------------------------------------


def sample_weights(loss, target):
    """The per-sample weight of the weighted mean: the effective class weight, else 1."""
    if isinstance(loss, WeightedCrossEntropy | LDAMLoss):
        return (1 - loss.strength) + loss.strength * loss.class_weight.double()[target]
    if isinstance(loss, ClassBalancedLoss):
        return loss.class_weight.double()[target]
    if isinstance(loss, FocalLoss):
        return loss.alpha.double()[target]
    return torch.ones(len(target), dtype=torch.float64)


@pytest.mark.parametrize("name", list(LOSSES))
def test_reductions_are_consistent(name):
    logits, target = batch(6, n=9)
    none = LOSSES[name](COUNTS, reduction="none")(logits, target)
    total = LOSSES[name](COUNTS, reduction="sum")(logits, target)
    loss = LOSSES[name](COUNTS, reduction="mean")
    mean = loss(logits, target)
    assert none.shape == (9,)
    torch.testing.assert_close(total, none.sum())
    torch.testing.assert_close(mean, none.sum() / sample_weights(loss, target).sum())


@pytest.mark.parametrize("name", list(LOSSES))
def test_ignored_rows_contribute_nothing(name):
    logits, target = batch(7, n=5)
    noise = 100 * torch.randn(3, 3, dtype=torch.float64)
    padded_logits = torch.cat([logits, noise]).requires_grad_()
    padded_target = torch.cat([target, torch.tensor([-1, -1, -1])])
    for reduction in ("none", "sum", "mean"):
        loss = LOSSES[name](COUNTS, reduction=reduction, ignore_index=-1)
        padded = loss(padded_logits, padded_target)
        plain = loss(logits, target)
        if reduction == "none":
            torch.testing.assert_close(padded[:5], plain)
            assert padded[5:].tolist() == [0.0, 0.0, 0.0]
            padded = padded.sum()
        else:
            torch.testing.assert_close(padded, plain)
        (grad,) = torch.autograd.grad(padded, padded_logits)
        assert grad[5:].abs().max() == 0
    every_row_ignored = LOSSES[name](COUNTS, ignore_index=-1)(noise, torch.full((3,), -1))
    assert every_row_ignored.item() == 0.0


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("logits", "target", "error", "message"),
    [
        ([[0.0, 1.0, 2.0]], torch.tensor([0]), TypeError, "logits: expected a float tensor"),
        (torch.zeros(2, 3, dtype=torch.long), torch.tensor([0, 1]), TypeError, "torch.int64"),
        (torch.zeros(2, 4), torch.tensor([0, 1]), ValueError, r"shape \(N, 3\).*\(2, 4\)"),
        (torch.zeros(3), torch.tensor([0, 1, 2]), ValueError, r"received \(3,\)"),
        (torch.zeros(2, 3), torch.tensor([0.0, 1.0]), TypeError, "target: expected an integer"),
        (torch.zeros(2, 3), torch.tensor([True, False]), TypeError, "torch.bool"),
        (torch.zeros(2, 3), torch.tensor([0, 1, 2]), ValueError, r"shape \(2,\).*\(3,\)"),
        (torch.zeros(2, 3), [0, 1], TypeError, "target: expected an integer tensor"),
        (torch.zeros(3, 3), torch.tensor([0, 3, -2]), ValueError, r"\[0, 3\).*\[-2, 3\]"),
    ],
)
@pytest.mark.parametrize("name", list(LOSSES))
def test_bad_inputs(name, logits, target, error, message):
    with pytest.raises(error, match=message):
        LOSSES[name](COUNTS)(logits, target)


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: WeightedCrossEntropy([3.0, 1.0]), TypeError, "class_counts: expected integer"),
        (lambda: LDAMLoss([[3, 1]]), ValueError, "class_counts: expected a non-empty 1-D"),
        (lambda: LogitAdjustedLoss([]), ValueError, r"received shape \(0,\)"),
        (lambda: BalancedSoftmaxLoss([3, -1]), ValueError, r"received \[-1\] for classes \[1\]"),
        (lambda: ClassBalancedLoss([3, 1], empty="drop"), ValueError, "empty: expected one of"),
        (lambda: ClassBalancedLoss([3, 1], loss_type="ce"), ValueError, "loss_type: expected"),
        (lambda: ClassBalancedLoss([3, 1], beta=1.0), ValueError, r"beta: expected .*\[0, 1\)"),
        (lambda: WeightedCrossEntropy([3, 1], method="x"), ValueError, "method: expected"),
        (lambda: WeightedCrossEntropy([3, 1], reduction="avg"), ValueError, "reduction: exp"),
        (lambda: WeightedCrossEntropy([3, 1], label_smoothing=2), ValueError, "label_smoothing"),
        (lambda: WeightedCrossEntropy([3, 1], schedule="drw"), TypeError, "schedule: expected"),
        (lambda: WeightedCrossEntropy([3, 1], schedule=Constant(2.0)), ValueError, r"\[0, 1\]"),
        (lambda: LDAMLoss([3, 1], ignore_index=1.5), TypeError, "ignore_index: expected an int"),
        (lambda: LDAMLoss([3, 1], max_m=0.0), ValueError, "max_m: expected a finite number > 0"),
        (lambda: LDAMLoss([3, 1], s=math.inf), ValueError, "s: expected a finite number"),
        (lambda: LogitAdjustedLoss([3, 1], tau=-1), ValueError, "tau: expected .* >= 0"),
        (lambda: FocalLoss(gamma="2"), ValueError, "gamma: expected a finite number >= 0"),
        (lambda: FocalLoss(alpha=[0.5, -1.0]), ValueError, "alpha: expected finite weights"),
        (lambda: FocalLoss(alpha=[[1.0]]), ValueError, "alpha: expected one weight per class"),
        (lambda: adjust_logits(torch.zeros(2, 3), [3, 1]), ValueError, r"\(\.\.\., 2\)"),
        (lambda: adjust_logits([0.0, 1.0], [3, 1]), TypeError, "logits: expected a float"),
        (lambda: adjust_logits(torch.zeros(2), [3, 0]), ValueError, r"classes \[1\]"),
    ],
)
def test_bad_arguments(build, error, message):
    with pytest.raises(error, match=message):
        build()


def test_bad_epochs():
    loss = WeightedCrossEntropy([3, 1], schedule=Deferred(2, before=0.0, after=1.0))
    with pytest.raises(ValueError, match="epoch: expected an int >= 0, received -1"):
        loss.set_epoch(-1)
    with pytest.raises(ValueError, match="epoch: expected an int >= 0"):
        LDAMLoss([3, 1]).set_epoch(1.5)
    with pytest.raises(ValueError, match=r"strength in \[0, 1\], received -0.5 at epoch 10"):
        WeightedCrossEntropy([3, 1], schedule=Linear(0, 10, start=0.0, end=-0.5)).set_epoch(10)


# --- properties -------------------------------------------------------------------------------


@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(1, 12),
    scale=st.sampled_from([0.01, 1.0, 30.0, 1e3]),
    ignored=st.booleans(),
)
def test_every_loss_is_finite_and_focal_gamma_zero_is_cross_entropy(seed, n, scale, ignored):
    generator = torch.Generator().manual_seed(seed)
    logits = scale * torch.randn(n, 3, generator=generator)
    target = torch.randint(3, (n,), generator=generator)
    if ignored:
        target[0] = -100
    for name, build in LOSSES.items():
        for reduction in ("mean", "none"):
            leaf = logits.clone().requires_grad_()
            value = build(COUNTS, reduction=reduction)(leaf, target)
            (grad,) = torch.autograd.grad(value.sum(), leaf)
            assert torch.isfinite(value).all() and torch.isfinite(grad).all(), name
    for reduction in ("mean", "sum", "none"):
        focal = FocalLoss(gamma=0.0, reduction=reduction)(logits, target)
        expected = F.cross_entropy(logits, target, reduction=reduction)
        if reduction == "mean" and bool((target == -100).all()):
            expected = torch.tensor(0.0)  # F.cross_entropy gives NaN here; the losses give 0
        torch.testing.assert_close(focal, expected, rtol=1e-5, atol=1e-5)
