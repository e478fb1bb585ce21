"""InvarianceMetric: the curve's numbers on the curve's pairs, and torchmetrics' machinery
(forward, merge_state, reset, MetricCollection compute groups, DDP sync, Lightning's log)."""

from __future__ import annotations

import copy
import math
import pickle
import subprocess
import sys

import pytest
import torch
from conftest import run_on_two_ranks
from torch import nn
from torch.utils.data import TensorDataset

from invtransfer._seeding import generator_for
from invtransfer.metrics import InvarianceMeter, invariance_curve
from invtransfer.metrics.evaluation import evaluation_set
from invtransfer.metrics.pairs import PAIR_STATISTICS
from invtransfer.transforms import Rotation

torchmetrics = pytest.importorskip("torchmetrics")
from invtransfer.metrics.torchmetric import InvarianceMetric  # noqa: E402

CLASSES = 3
SIZES = [500, 50, 5]
PER_CLASS = 4
COPIES = 5
SEED = 0
DIVERGENCES = ("ekld", "symmetric_kl", "js")


def labelled_images() -> TensorDataset:
    """Six images per class, labels as the TensorDataset's last tensor (no ``targets``)."""
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(CLASSES).repeat_interleave(6)
    return TensorDataset(torch.rand(len(labels), 1, 8, 8, generator=generator), labels)


def linear_model() -> nn.Module:
    """Fixed random weights, centred on grey images, so that predictions vary and move."""
    generator = torch.Generator().manual_seed(1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, CLASSES))
    with torch.no_grad():
        model[1].weight.copy_(torch.randn(CLASSES, 64, generator=generator) / 2)
        model[1].bias.copy_(-model[1].weight.sum(1) / 2)
    return model.eval()


def the_curve():
    """The curve of `linear_model`, every forward pass in one batch, so that the pairs below
    reproduce its logits bit for bit."""
    return invariance_curve(
        linear_model(),
        labelled_images(),
        Rotation(),
        SIZES,
        samples_per_class=PER_CLASS,
        transforms_per_sample=COPIES,
        measures=(*DIVERGENCES, "consistency"),
        seed=SEED,
        batch_size=10_000,
        progress=False,
    )


def curve_pairs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The curve's pairs, rebuilt from public pieces: its evaluation set, and ``COPIES``
    views of image ``i`` drawn from ``(seed, 1, i)``; clean logits repeated per copy."""
    evaluation = evaluation_set(labelled_images(), CLASSES, PER_CLASS, SEED)
    family, model = Rotation(), linear_model()
    views = [
        family.views(image[None], COPIES, generator_for(SEED, 1, i))
        for i, image in enumerate(evaluation.images)
    ]
    source = torch.arange(len(evaluation.labels)).repeat_interleave(COPIES)
    with torch.no_grad():
        clean = model(evaluation.images)[source]
        transformed = model(torch.cat([view.images for view in views]))
    return clean, transformed, evaluation.labels[source]


def random_pairs(n: int = 60, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random logits, and targets that leave the last class without pairs."""
    generator = torch.Generator().manual_seed(seed)
    clean = 3 * torch.randn(n, CLASSES + 1, generator=generator)
    transformed = clean + torch.randn(n, CLASSES + 1, generator=generator)
    return clean, transformed, torch.randint(0, CLASSES, (n,), generator=generator)


def computed(measure: str, average: str, *batches) -> torch.Tensor:
    metric = InvarianceMetric(len(batches[0][0][0]), measure=measure, average=average)
    for batch in batches:
        metric.update(*batch)
    return metric.compute()


def assert_same(result: torch.Tensor, expected: torch.Tensor) -> None:
    """Equal up to the order of float64 additions (the curve adds by image, then by class)."""
    torch.testing.assert_close(result, expected, rtol=1e-12, atol=1e-15, equal_nan=True)


def test_equals_the_curve_per_class_means_on_the_same_pairs():
    curve, pairs = the_curve(), curve_pairs()
    expected = {name: curve.measures[name]["mean"] for name in (*DIVERGENCES, "consistency")}
    expected |= {"accuracy": curve.accuracy, "confidence": curve.confidence}
    assert set(expected) == set(PAIR_STATISTICS)
    for measure, means in expected.items():
        assert_same(computed(measure, "none", pairs), means)
        assert_same(computed(measure, "macro", pairs), means.mean())
        assert_same(computed(measure, "micro", pairs), means.mean())  # as many pairs per class
    # the pinned numbers of this model and seed: a change here changes every curve
    pinned = {
        "ekld": [0.9223, 1.2720, 0.2922],
        "consistency": [0.05, 0.2, 0.6],
        "accuracy": [0.0, 0.75, 0.25],
    }
    for measure, values in pinned.items():
        pin = torch.tensor(values, dtype=torch.float64)
        torch.testing.assert_close(expected[measure], pin, atol=1e-4, rtol=0)
    assert curve.images.tolist() == [PER_CLASS] * CLASSES


def test_equals_the_meter_on_every_statistic():
    pairs = random_pairs()
    meter = InvarianceMeter(CLASSES + 1, divergence="js")
    meter.update(*pairs)
    expected = meter.compute()
    for measure, name in (("js", "divergence"), ("consistency", "consistency")):
        assert_same(computed(measure, "none", pairs), expected[name])
        assert_same(computed(measure, "micro", pairs), expected[f"overall_{name}"])
        assert_same(computed(measure, "macro", pairs), expected[name].nanmean())


def test_averages_and_classes_without_pairs():
    clean = torch.tensor([[4.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 4.0]])
    targets = torch.tensor([0, 1, 1])
    pairs = (clean, clean, targets)
    assert computed("accuracy", "none", pairs).tolist()[:2] == [1.0, 0.5]
    assert math.isnan(computed("accuracy", "none", pairs)[2])
    assert computed("accuracy", "macro", pairs).item() == 0.75  # (1 + 1/2) / 2 classes
    assert computed("accuracy", "micro", pairs).item() == pytest.approx(2 / 3)  # 2 of 3 pairs
    empty = InvarianceMetric(CLASSES)
    with pytest.warns(UserWarning, match="before the ``update``"):
        assert math.isnan(empty.compute())
    result = computed("ekld", "none", pairs)
    assert result.dtype == torch.float64 and result.shape == (CLASSES,)


def test_forward_returns_the_batch_value_and_accumulates():
    clean, transformed, targets = random_pairs()
    first = (clean[:25], transformed[:25], targets[:25])
    second = (clean[25:], transformed[25:], targets[25:])
    for average in ("macro", "micro", "none"):
        metric = InvarianceMetric(CLASSES + 1, average=average)
        assert_same(metric(*first), computed("ekld", average, first))
        assert_same(metric(*second), computed("ekld", average, second))
        assert_same(metric.compute(), computed("ekld", average, first, second))
        assert_same(metric.compute(), computed("ekld", average, (clean, transformed, targets)))


def test_merge_state_adds_the_other_pairs():
    clean, transformed, targets = random_pairs()
    whole = computed("consistency", "none", (clean, transformed, targets))
    halves = [
        InvarianceMetric(CLASSES + 1, measure="consistency", average="none") for _ in range(3)
    ]
    halves[0].update(clean[:30], transformed[:30], targets[:30])
    halves[1].update(clean[30:], transformed[30:], targets[30:])
    halves[2].update(clean[30:], transformed[30:], targets[30:])
    halves[0].merge_state(halves[1])
    assert_same(halves[0].compute(), whole)
    halves[0].reset()
    halves[0].update(clean[:30], transformed[:30], targets[:30])
    halves[0].merge_state(halves[2].metric_state)  # a state dict works as well
    assert_same(halves[0].compute(), whole)


def test_reset_forgets_every_pair():
    clean, transformed, targets = random_pairs()
    metric = InvarianceMetric(CLASSES + 1, measure="js")
    metric.update(clean, transformed, targets)
    metric.reset()
    assert not metric.sums.any() and metric.update_count == 0
    metric.update(clean[:10], transformed[:10], targets[:10])
    assert_same(
        metric.compute(), computed("js", "macro", (clean[:10], transformed[:10], targets[:10]))
    )


def test_a_metric_collection_shares_one_state_across_measures():
    clean, transformed, targets = random_pairs()
    collection = torchmetrics.MetricCollection(
        {
            "ekld": InvarianceMetric(CLASSES + 1),
            "consistency": InvarianceMetric(CLASSES + 1, measure="consistency"),
            "accuracy_per_class": InvarianceMetric(CLASSES + 1, "accuracy", "none"),
        },
        compute_groups=True,
    )
    batch_values = collection(clean[:30], transformed[:30], targets[:30])
    collection.update(clean[30:], transformed[30:], targets[30:])
    groups = [sorted(group) for group in collection.compute_groups.values()]
    assert groups == [["accuracy_per_class", "consistency", "ekld"]]
    result = collection.compute()
    whole, half = (clean, transformed, targets), (clean[:30], transformed[:30], targets[:30])
    assert_same(result["ekld"], computed("ekld", "macro", whole))
    assert_same(result["consistency"], computed("consistency", "macro", whole))
    assert_same(result["accuracy_per_class"], computed("accuracy", "none", whole))
    assert_same(batch_values["consistency"], computed("consistency", "macro", half))


def test_torchmetrics_conventions():
    assert InvarianceMetric.is_differentiable is False
    assert InvarianceMetric.full_state_update is False
    better = {name: InvarianceMetric(2, measure=name).higher_is_better for name in PAIR_STATISTICS}
    assert better == {
        "ekld": False,
        "symmetric_kl": False,
        "js": False,
        "consistency": True,
        "accuracy": True,
        "confidence": True,
    }
    metric = InvarianceMetric(CLASSES + 1, measure="symmetric_kl", average="micro")
    clean, transformed, targets = random_pairs()
    metric.update(clean.requires_grad_(), transformed, targets)
    assert not metric.sums.requires_grad and metric.sums.dtype == torch.float64
    for twin in (copy.deepcopy(metric), pickle.loads(pickle.dumps(metric))):
        assert_same(twin.compute(), metric.compute())
    assert "measure='symmetric_kl', average='micro'" in repr(metric)


def test_the_lazy_name_and_its_import_error_without_torchmetrics():
    import invtransfer.metrics

    assert invtransfer.metrics.InvarianceMetric is InvarianceMetric
    assert "InvarianceMetric" in dir(invtransfer.metrics)
    with pytest.raises(AttributeError, match="no attribute 'InvarianceMetrics'"):
        invtransfer.metrics.InvarianceMetrics  # noqa: B018
    script = (
        "import sys\n"
        "import invtransfer.metrics as metrics\n"
        "assert 'torchmetrics' not in sys.modules, 'imported torchmetrics'\n"
        "sys.modules['torchmetrics'] = None  # as if it were not installed\n"
        "try:\n"
        "    metrics.InvarianceMetric\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "pip install invtransfer[torchmetrics]" in result.stdout


@pytest.mark.parametrize(
    ("batch", "error", "message"),
    [
        (
            (torch.zeros(3, 4), torch.zeros(3, 4), [0, 1, 2]),
            ValueError,
            "clean_logits: expected logits (N, num_classes=3), received shape (3, 4)",
        ),
        (
            (torch.zeros(3), torch.zeros(3), [0]),
            ValueError,
            "clean_logits: expected logits (N, num_classes=3), received shape (3,)",
        ),
        (
            (torch.zeros(3, 3), torch.zeros(2, 3), [0, 1, 2]),
            ValueError,
            "transformed_logits: expected the shape of clean_logits (3, 3), received (2, 3)",
        ),
        (
            (torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 3), [0, 1]),
            TypeError,
            "clean_logits: expected floating-point logits, received dtype torch.int64",
        ),
        (
            ([[0.0] * 3], torch.zeros(1, 3), [0]),
            TypeError,
            "clean_logits: expected a tensor of logits, received list",
        ),
        (
            (torch.zeros(3, 3), torch.zeros(3, 3), torch.tensor([0, 1])),
            ValueError,
            "targets: expected one label per pair (3), received 2",
        ),
        (
            (torch.zeros(2, 3), torch.zeros(2, 3), torch.tensor([0.0, 1.0])),
            TypeError,
            "targets: expected integer class labels, received dtype torch.float32",
        ),
        (
            (torch.zeros(2, 3), torch.zeros(2, 3), torch.tensor([0, 3])),
            ValueError,
            "targets: expected labels in [0, 3), received labels from 0 to 3",
        ),
        (
            (torch.zeros(2, 3), torch.zeros(2, 3), torch.tensor([[0, 1]])),
            ValueError,
            "targets: expected labels (N,), received shape (1, 2)",
        ),
    ],
)
def test_bad_batches_are_named(batch, error, message):
    metric = InvarianceMetric(CLASSES)
    with pytest.raises(error) as raised:
        metric.update(*batch)
    assert str(raised.value) == message and not metric.sums.any()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"num_classes": 0}, "num_classes: expected an int >= 1, received 0"),
        ({"num_classes": 2.0}, "num_classes: expected an int >= 1, received 2.0"),
        (
            {"num_classes": 2, "measure": "kl"},
            "measure: expected one of ('ekld', 'symmetric_kl', 'js', 'consistency', "
            "'accuracy', 'confidence'), received 'kl'",
        ),
        (
            {"num_classes": 2, "average": "weighted"},
            "average: expected one of ('macro', 'micro', 'none'), received 'weighted'",
        ),
    ],
)
def test_bad_construction_is_named(arguments, message):
    with pytest.raises(ValueError) as raised:
        InvarianceMetric(**arguments)
    assert str(raised.value) == message


def _collection_on_rank(rank: int) -> dict[str, list[float]]:
    """Every other pair of the curve's into a MetricCollection, synced by torchmetrics."""
    clean, transformed, targets = curve_pairs()
    collection = torchmetrics.MetricCollection(
        {
            "ekld": InvarianceMetric(CLASSES, average="none"),
            "consistency": InvarianceMetric(CLASSES, measure="consistency", average="none"),
            "ekld_macro": InvarianceMetric(CLASSES),
        }
    )
    mine = slice(rank, None, 2)
    collection.update(clean[mine], transformed[mine], targets[mine])
    synced = collection.compute()
    local = collection["ekld"].sums.clone()
    return {
        **{name: value.reshape(-1).tolist() for name, value in synced.items()},
        "local_pairs": local[-1].tolist(),
    }


def test_two_gloo_ranks_give_the_single_process_curve(tmp_path):
    curve = the_curve()
    half = PER_CLASS * COPIES / 2
    for result in run_on_two_ranks(_collection_on_rank, tmp_path):
        synced = {name: torch.tensor(value, dtype=torch.float64) for name, value in result.items()}
        assert_same(synced["ekld"], curve.measures["ekld"]["mean"])
        assert_same(synced["consistency"], curve.measures["consistency"]["mean"])
        assert_same(synced["ekld_macro"], curve.measures["ekld"]["mean"].mean()[None])
        assert result["local_pairs"] == [half] * CLASSES  # compute() left the local state alone


def test_lightning_logs_the_metric_at_epoch_end():
    lightning = pytest.importorskip("lightning")
    pairs = random_pairs(n=40)

    class Logged(lightning.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(1, 1)
            self.invariance = InvarianceMetric(CLASSES + 1, measure="consistency")

        def training_step(self, batch, _index):
            self.invariance.update(*batch)
            self.log("consistency", self.invariance, on_step=False, on_epoch=True)
            return self.layer(torch.ones(1, 1)).sum()

        def train_dataloader(self):
            return torch.utils.data.DataLoader(TensorDataset(*pairs), batch_size=10)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.0)

    trainer = lightning.Trainer(
        max_epochs=1,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(Logged())
    logged = trainer.callback_metrics["consistency"]
    torch.testing.assert_close(logged.double(), computed("consistency", "macro", pairs))
