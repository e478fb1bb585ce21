"""An experiment config is validated completely when it is loaded, before anything trains:
each bad setting is a ValueError that names the key, what was expected and what was
received, with close matches for misspelt names."""

import pytest

from invtransfer.experiments import ExperimentConfig

BAD = [
    # (override, key named in the message)
    ("name=''", "name"),
    ("name='../../x'", "name"),
    ("name='a/b'", "name"),
    ("name='..'", "name"),
    ("methods=[]", "methods"),
    ('methods=["ce", "ce"]', "methods"),
    ('methods=["ce_dr"]', "methods[0]"),
    ('methods=["ce", "focal+gti"]', "methods[1]"),
    ('methods=["ce", "git"]', "methods[1]"),
    ("seeds=[]", "seeds"),
    ("seeds=[0, 0]", "seeds"),
    ("seeds=[-1]", "seeds[0]"),
    ("seeds=[0, -5]", "seeds[1]"),
    ("seeds=[0.5]", "seeds[0]"),
    ('seeds=["0"]', "seeds[0]"),
    ('data.recipe="mnist"', "data.recipe"),
    ('data.recipe="cifar"', "data.recipe"),
    ('data.variant="background"', "data.variant"),
    ('data.variant="rotate"', "data.variant"),
    ("data.class_orders=0", "data.class_orders"),
    ("data.class_orders=-3", "data.class_orders"),
    ("data.class_orders=1.5", "data.class_orders"),
    ('model.name=""', "model.name"),
    ('model.name="  "', "model.name"),
    ("model.name=3", "model.name"),
    ("train.epochs=0", "train.epochs"),
    ("train.epochs=-1", "train.epochs"),
    ("train.epochs=2.5", "train.epochs"),
    ("train.epochs=true", "train.epochs"),
    ("train.batch_size=0", "train.batch_size"),
    ("train.batch_size=-8", "train.batch_size"),
    ("train.lr=0", "train.lr"),
    ("train.lr=-0.1", "train.lr"),
    ("train.lr=nan", "train.lr"),
    ("train.lr=inf", "train.lr"),
    ('train.lr="fast"', "train.lr"),
    ("train.momentum=1.0", "train.momentum"),
    ("train.momentum=-0.1", "train.momentum"),
    ("train.momentum=nan", "train.momentum"),
    ("train.weight_decay=-1e-4", "train.weight_decay"),
    ("train.weight_decay=inf", "train.weight_decay"),
    ("train.gamma=0", "train.gamma"),
    ("train.gamma=1.5", "train.gamma"),
    ("train.gamma=nan", "train.gamma"),
    ("train.warmup_epochs=-1", "train.warmup_epochs"),
    ("train.warmup_epochs=60", "train.warmup_epochs"),
    ("train.milestones=[40, 30]", "train.milestones"),
    ("train.milestones=[30, 30]", "train.milestones"),
    ("train.milestones=[30, 50]", "train.milestones"),
    ("train.milestones=[2, 40]", "train.milestones"),
    ("train.milestones=[30, 400]", "train.milestones"),
    ("train.defer_epoch=-1", "train.defer_epoch"),
    ("train.defer_epoch=50", "train.defer_epoch"),
    ('train.augmentation="jitter"', "train.augmentation"),
    ('train.augmentation="crop_flp"', "train.augmentation"),
    ('train.amp="bf17"', "train.amp"),
    ('train.amp="fp32"', "train.amp"),
    ("train.workers=-1", "train.workers"),
    ('git.preset="28x28x1"', "git.preset"),
    ('git.preset="32x32x3"', "git.preset"),
    ("git.iterations=0", "git.iterations"),
    ("git.batch_size=0", "git.batch_size"),
    ("git.fraction=0", "git.fraction"),
    ("git.fraction=1.5", "git.fraction"),
    ("git.fraction=nan", "git.fraction"),
    ("evaluation.samples_per_class=0", "evaluation.samples_per_class"),
    ("evaluation.transforms_per_sample=0", "evaluation.transforms_per_sample"),
    ('evaluation.family="rotate"', "evaluation.family"),
    ('evaluation.family="lighting"', "evaluation.family"),
    ("evaluation.family_options={ degrees = 15 }", "evaluation.family_options"),
    ('comparisons=[["ce", "focal"]]', "comparisons[0]"),
    ('comparisons=[["ce"]]', "comparisons[0]"),
    ("train.nonsense=1", "train"),
    ("nonsense=1", "config"),
]


@pytest.mark.parametrize(("override", "key"), BAD, ids=[row[0] for row in BAD])
def test_a_bad_setting_is_refused_at_load_naming_its_key(override, key):
    with pytest.raises(ValueError) as error:
        ExperimentConfig().with_overrides([override])
    message = str(error.value)
    assert message.startswith(f"{key}:") or message.startswith(f"override {override!r}")
    assert "expected" in message


@pytest.mark.parametrize(
    ("override", "suggestion"),
    [
        ('data.recipe="mnist"', "mnist_lt"),
        ('methods=["ce_dr"]', "ce_drs"),
        ('git.preset="28x28x1"', "paper-28x28x1"),
        ('evaluation.family="rotate"', "rotation"),
        ('train.amp="bf17"', "bf16"),
    ],
)
def test_misspelt_names_get_close_matches(override, suggestion):
    with pytest.raises(ValueError, match=f"close matches: .*'{suggestion}'"):
        ExperimentConfig().with_overrides([override])


def test_the_shipped_defaults_and_consistent_settings_are_accepted():
    ExperimentConfig()
    config = ExperimentConfig().with_overrides(
        ["train.epochs=3", "train.warmup_epochs=0", "train.milestones=[1, 2]",
         "train.defer_epoch=2", 'evaluation.family="rotation"',
         "evaluation.family_options={ degrees = 15 }", 'methods=["ce", "ce_drs+git"]']
    )  # fmt: skip
    assert config.train.milestones == [1, 2] and config.evaluation.family_options == {"degrees": 15}
