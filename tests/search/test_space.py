"""Search spaces: files in TOML and YAML, and one clear error per mistake, naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from stagewise import ConfigError
from stagewise.search import Choice, EnsembleTarget, FloatRange, IntRange, SearchSpace, load_space

TOML = """
[params.lightgbm]
num_leaves = { type = "int", low = 8, high = 64 }
learning_rate = { type = "float", low = 0.01, high = 0.3, log = true }

[params]
"random_forest.max_features" = { choices = ["sqrt", 0.5] }

[feature_sets]
all = "*"
few = ["pit", "class_code"]
"""


def test_a_toml_space_reads_nested_and_dotted_names_and_feature_sets(tmp_path: Path) -> None:
    path = tmp_path / "space.toml"
    path.write_text(TOML, encoding="utf-8")
    space = load_space(path)
    assert space.params == {
        "lightgbm.num_leaves": IntRange(8, 64),
        "lightgbm.learning_rate": FloatRange(0.01, 0.3, log=True),
        "random_forest.max_features": Choice(("sqrt", 0.5)),
    }
    assert space.feature_sets == {"all": None, "few": ("pit", "class_code")}
    EnsembleTarget().check_names(space.names())


def test_a_yaml_space_is_the_same_space(tmp_path: Path) -> None:
    path = tmp_path / "space.yaml"
    path.write_text(
        "params:\n  lightgbm.num_leaves: {type: int, low: 8, high: 64}\n"
        "  lightgbm.learning_rate: {type: float, low: 0.01, high: 0.3, log: true}\n"
        "  random_forest.max_features: {choices: [sqrt, 0.5]}\n"
        "feature_sets:\n  all: '*'\n  few: [pit, class_code]\n",
        encoding="utf-8",
    )
    toml = tmp_path / "space.toml"
    toml.write_text(TOML, encoding="utf-8")
    assert load_space(path).fingerprint() == load_space(toml).fingerprint()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            '[params]\nx = { type = "int", low = 5, high = 5 }',
            "'x' range must have low < high. Got low=5, high=5",
            id="empty-range",
        ),
        pytest.param(
            '[params]\nx = { type = "float", low = 1.0, high = 0.1 }',
            "'x' range must have low < high",
            id="inverted-range",
        ),
        pytest.param(
            "[params]\nx = { choices = [] }",
            "'x.choices' field must list at least one value",
            id="no-choices",
        ),
        pytest.param(
            '[params]\nx = { type = "int", low = 0, high = 9, log = true }',
            "'x.low' field must be >= 1 with log",
            id="log-from-zero",
        ),
        pytest.param(
            '[params]\nx = { type = "integer", low = 0, high = 9 }',
            "'params.x.type' field must be one of",
            id="bad-type",
        ),
        pytest.param(
            '[params]\nx = { type = "int", high = 9 }', "'params.x.low' field is missing", id="missing-low"
        ),
        pytest.param(
            '[params]\nx = { type = "int", low = "a", high = 9 }',
            "'params.x.low' field must be an int",
            id="text-bound",
        ),
        pytest.param(
            '[params]\nx = { type = "int", low = 1, high = 9, lo = 2 }',
            "'params.x' field has unknown key(s) ['lo']",
            id="unknown-key",
        ),
        pytest.param("[parameters]\nx = 1", "unknown section(s) ['parameters']", id="unknown-section"),
        pytest.param("", "The search space is empty", id="empty"),
        pytest.param('[feature_sets]\nfew = "pit"', "'feature_sets.few' field must be", id="bad-feature-set"),
    ],
)
def test_a_bad_space_is_one_line_naming_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "space.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_space(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_a_file_that_does_not_parse_names_the_file_and_the_flag(tmp_path: Path) -> None:
    path = tmp_path / "space.toml"
    path.write_text("[params\nx = 1", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"The '--space' file '.*space.toml' is not valid TOML"):
        load_space(path)
    yaml_path = tmp_path / "space.yml"
    yaml_path.write_text("params: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"is not valid YAML"):
        load_space(yaml_path)
    json_path = tmp_path / "space.json"
    json_path.write_text("{}", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"must end in .toml, .yaml or .yml"):
        load_space(json_path)
    with pytest.raises(ConfigError, match=r"The '--space' file '.*missing.toml' cannot be read"):
        load_space(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("lightgbm.num_leafs", "'lightgbm.num_leafs' is unknown: lightgbm accepts"),
        ("catboost.depth", "'catboost.depth' is unknown: ensemble parameters start with one of"),
        ("weights.lgbm", "'weights.lgbm' is unknown"),
        ("lightgbm.random_state", "'lightgbm.random_state' is unknown"),
    ],
)
def test_unknown_parameter_names_are_refused_before_any_trial(name: str, message: str) -> None:
    space = SearchSpace({name: IntRange(1, 5)})
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        EnsembleTarget().check_names(space.names())


def test_a_feature_set_naming_an_unknown_column_is_refused() -> None:
    space = SearchSpace({"lightgbm.num_leaves": IntRange(8, 9)}, {"few": ("pit", "boat_colour")})
    with pytest.raises(
        ConfigError, match=r"'feature_sets.few' field names unknown feature\(s\) \['boat_colour'\]"
    ):
        space.check_features(["pit", "class_code"])


def test_the_fingerprint_changes_with_any_range() -> None:
    one = SearchSpace({"lightgbm.num_leaves": IntRange(8, 64)})
    assert one.fingerprint() == SearchSpace({"lightgbm.num_leaves": IntRange(8, 64)}).fingerprint()
    assert one.fingerprint() != SearchSpace({"lightgbm.num_leaves": IntRange(8, 65)}).fingerprint()
