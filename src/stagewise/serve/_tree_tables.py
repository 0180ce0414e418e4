"""The three families' trees as LightGBM tree text, with each family's own split rule kept exactly.

The fast path evaluates the boosters' trees (and the forest's, when no C compiler is there for
the forest walker) with one engine, LightGBM's single-row predictor. LightGBM's rule is
``x <= threshold`` on the float64 value, NaN going to the node's default side. The other two
families read their input as float32 first:

* scikit-learn's trees go left when ``float32(x) <= t`` (``t`` a float64 midpoint);
* XGBoost goes left when ``float32(x) < s`` (``s`` a float32).

Both are rewritten here as ``x <= t'`` with a float64 ``t'`` chosen so that the two tests agree
for every float64 ``x`` a model accepts (|x| at most the largest float32), round-half-to-even
included: see :func:`float32_le_bound`. NaN keeps each node's own side (scikit-learn's
``missing_go_to_left``, XGBoost's ``default_left``).

LightGBM's own trees are copied verbatim from its model text, so they keep its rules (NaN read
as 0 on a node without a missing type, zero-as-missing nodes) bit for bit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from stagewise._exceptions import ConfigError

__all__ = [
    "FLOAT32_MAX",
    "FamilyTrees",
    "engine_model_text",
    "float32_le_bound",
    "forest_trees",
    "largest_float32_at_most",
    "lightgbm_trees",
    "padding_tree",
    "xgboost_trees",
]

#: The largest finite float32. Larger inputs overflow to infinity in XGBoost and scikit-learn.
FLOAT32_MAX = float(np.finfo(np.float32).max)

# float64 values of x at or above this round to +inf in float32 (half an ulp above FLOAT32_MAX)
_FLOAT32_OVERFLOW = 2.0**128 - 2.0**103
_NAN_MISSING = 8  # LightGBM decision_type bits: missing type NaN (2 << 2)
_DEFAULT_LEFT = 2  # LightGBM decision_type bit: missing values go left


@dataclass(frozen=True)
class FamilyTrees:
    """One family's trees as LightGBM tree text and the rule that turns their sum into P(positive).

    ``probability(raw)`` is ``1 / (1 + exp(-scale * (raw / divisor + offset)))`` for
    ``link="sigmoid"`` and ``raw / divisor`` for ``link="mean"``.
    """

    name: str
    trees: tuple[str, ...]
    link: str
    divisor: float = 1.0
    scale: float = 1.0
    offset: float = 0.0


def float32_le_bound(f: np.ndarray) -> np.ndarray:
    """The float64 ``t'`` with ``float32(x) <= f``  ⇔  ``x <= t'`` for every float64 ``x``.

    ``float32(x) <= f`` holds exactly when ``x`` rounds to ``f`` or below: below the midpoint
    ``m`` between ``f`` and the next float32 up, and at ``m`` itself when the tie rounds to ``f``
    (``f``'s last significand bit is 0). ``m`` is exact in float64 (25 significant bits).

    Examples
    --------
    >>> import numpy as np
    >>> f = np.array([1.0, 0.1], dtype=np.float32)
    >>> bound = float32_le_bound(f)
    >>> x = np.nextafter(bound, np.inf)
    >>> bool((bound.astype(np.float32) <= f).all()), bool((x.astype(np.float32) > f).all())
    (True, True)
    """
    f = np.asarray(f, dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        up = np.nextafter(f, np.float32(np.inf))
        middle = (f.astype(np.float64) + up.astype(np.float64)) / 2.0
    middle = np.where(np.isposinf(up), _FLOAT32_OVERFLOW, middle)
    even = (f.view(np.uint32) & 1) == 0
    bound = np.where(even, middle, np.nextafter(middle, -np.inf))
    # -inf (f = -inf): no accepted x passes; LightGBM's text needs a finite number
    return np.asarray(np.nan_to_num(bound, neginf=-np.finfo(np.float64).max), dtype=np.float64)


def largest_float32_at_most(t: np.ndarray) -> np.ndarray:
    """Per value, the largest float32 at or below it (so ``float32(x) <= result`` iff ``x <= t``)."""
    with np.errstate(over="ignore"):
        f = t.astype(np.float32)
    above = f.astype(np.float64) > t
    f[above] = np.nextafter(f[above], np.float32(-np.inf))
    return f


def _tree_text(
    feature: np.ndarray,
    bound: np.ndarray,
    default_left: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    is_leaf: np.ndarray,
    value: np.ndarray,
) -> str:
    """LightGBM text of one tree given as node arrays (root at 0, children by node index).

    Internal nodes keep their order and are numbered 0.. (so the root stays 0); a child that
    is a leaf becomes ``~leaf_number``, as LightGBM stores it.
    """
    internal = ~is_leaf
    if not internal[0]:
        return _leaf_tree(_numbers(value[:1]))
    internal_id = np.cumsum(internal) - 1
    leaf_id = np.cumsum(is_leaf) - 1
    code = np.where(is_leaf, ~leaf_id, internal_id)
    nodes = np.flatnonzero(internal)
    n_leaves = int(is_leaf.sum())
    zeros_internal = " ".join(["0"] * nodes.size)
    zeros_leaves = " ".join(["0"] * n_leaves)
    decision = _NAN_MISSING | np.where(default_left[nodes], _DEFAULT_LEFT, 0)
    return (
        f"num_leaves={n_leaves}\nnum_cat=0\n"
        f"split_feature={_integers(feature[nodes])}\n"
        f"split_gain={zeros_internal}\n"
        f"threshold={_numbers(bound[nodes])}\n"
        f"decision_type={_integers(decision)}\n"
        f"left_child={_integers(code[left[nodes]])}\n"
        f"right_child={_integers(code[right[nodes]])}\n"
        f"leaf_value={_numbers(value[is_leaf])}\n"
        f"leaf_weight={zeros_leaves}\nleaf_count={zeros_leaves}\n"
        f"internal_value={zeros_internal}\ninternal_weight={zeros_internal}\n"
        f"internal_count={zeros_internal}\n"
        "is_linear=0\nshrinkage=1\n"
    )


def _numbers(values: np.ndarray) -> str:
    return " ".join(repr(v) for v in np.asarray(values, dtype=np.float64).tolist())  # repr round-trips


def _integers(values: np.ndarray) -> str:
    return " ".join(str(v) for v in np.asarray(values, dtype=np.int64).tolist())


# --------------------------------------------------------------------------- RandomForest
def forest_trees(forest: Any) -> FamilyTrees:
    """A fitted ``RandomForestClassifier``: P(positive) is the mean of the trees' leaf fractions."""
    trees = []
    for estimator in forest.estimators_:
        tree = estimator.tree_
        if tree.n_outputs != 1 or tree.value.shape[2] != 2:
            raise ConfigError(
                f"The fast path needs a binary single-output forest; got n_outputs={tree.n_outputs}, "
                f"{tree.value.shape[2]} classes."
            )
        left = np.asarray(tree.children_left, dtype=np.int64)
        is_leaf = left == -1
        threshold = np.asarray(tree.threshold, dtype=np.float64)
        bound = np.zeros_like(threshold)
        bound[~is_leaf] = float32_le_bound(largest_float32_at_most(threshold[~is_leaf]))
        trees.append(
            _tree_text(
                np.asarray(tree.feature, dtype=np.int64),
                bound,
                np.asarray(tree.missing_go_to_left, dtype=bool),
                np.maximum(left, 0),
                np.maximum(np.asarray(tree.children_right, dtype=np.int64), 0),
                is_leaf,
                np.asarray(tree.value[:, 0, 1], dtype=np.float64),
            )
        )
    return FamilyTrees("random_forest", tuple(trees), link="mean", divisor=float(len(trees)))


# --------------------------------------------------------------------------- XGBoost
def xgboost_trees(booster: Any) -> FamilyTrees:
    """A fitted ``xgboost.Booster`` (gbtree, binary:logistic): sigmoid of base margin + tree sum."""
    model = json.loads(bytes(booster.save_raw(raw_format="json")))
    learner = model["learner"]
    objective = learner["objective"]["name"]
    gbm = learner["gradient_booster"]
    if gbm["name"] != "gbtree" or objective != "binary:logistic":
        raise ConfigError(
            f"The fast path reads XGBoost models with booster 'gbtree' and objective 'binary:logistic'; "
            f"got booster {gbm['name']!r}, objective {objective!r}. Serve this model with the library."
        )
    base_score = float(str(learner["learner_model_param"]["base_score"]).strip("[]"))
    base = np.float32(base_score)
    offset = float(-np.log(np.float32(1.0) / base - np.float32(1.0)))  # XGBoost's ProbToMargin, float32
    trees = []
    for tree in gbm["model"]["trees"]:
        if any(int(t) != 0 for t in tree.get("split_type", [])):
            raise ConfigError(
                "The fast path does not read XGBoost categorical splits; serve with the library."
            )
        left = np.asarray(tree["left_children"], dtype=np.int64)
        is_leaf = left == -1
        condition = np.asarray(tree["split_conditions"], dtype=np.float64).astype(np.float32)
        bound = np.zeros(condition.shape, dtype=np.float64)
        # x goes left when float32(x) < s, i.e. float32(x) <= the float32 just below s
        below = np.nextafter(condition[~is_leaf], np.float32(-np.inf))
        bound[~is_leaf] = float32_le_bound(below)
        trees.append(
            _tree_text(
                np.asarray(tree["split_indices"], dtype=np.int64),
                bound,
                np.asarray(tree["default_left"], dtype=bool),
                np.maximum(left, 0),
                np.maximum(np.asarray(tree["right_children"], dtype=np.int64), 0),
                is_leaf,
                condition.astype(np.float64),  # a leaf's value is its split_condition
            )
        )
    return FamilyTrees("xgboost", tuple(trees), link="sigmoid", offset=offset)


# --------------------------------------------------------------------------- LightGBM
def lightgbm_trees(booster: Any) -> FamilyTrees:
    """A fitted ``lightgbm.Booster`` (binary): its tree blocks verbatim, and its sigmoid."""
    best = int(getattr(booster, "best_iteration", 0) or 0)
    text: str = booster.model_to_string(num_iteration=best if best > 0 else -1)
    head, _, body = text.partition("\nTree=")
    header = _header(head)
    objective = header.get("objective", "").split()
    if header.get("num_tree_per_iteration", "1") != "1" or not objective or objective[0] != "binary":
        raise ConfigError(
            f"The fast path reads binary LightGBM models; got objective {header.get('objective')!r} "
            f"with {header.get('num_tree_per_iteration')} trees per iteration."
        )
    sigmoid = 1.0
    for token in objective[1:]:
        key, _, value = token.partition(":")
        if key == "sigmoid":
            sigmoid = float(value)
    body = body.split("\nend of trees", 1)[0]
    trees = [_lightgbm_block(block) for block in ("Tree=" + body).split("\nTree=") if block.strip()]
    divisor = float(len(trees)) if "average_output" in header else 1.0
    return FamilyTrees("lightgbm", tuple(trees), link="sigmoid", divisor=divisor, scale=sigmoid)


def _header(head: str) -> dict[str, str]:
    out = {}
    for line in head.splitlines():
        key, _, value = line.partition("=")
        out[key.strip()] = value.strip()
    return out


def _lightgbm_block(block: str) -> str:
    """One tree block without its ``Tree=i`` line; refuses what the fast path cannot read."""
    lines = [line for line in block.strip().splitlines()[1:] if line.strip()]
    fields = dict(line.split("=", 1) for line in lines)
    if fields.get("num_cat", "0") != "0" or fields.get("is_linear", "0") != "0":
        raise ConfigError(
            "The fast path does not read LightGBM categorical splits or linear trees; serve with the library."
        )
    return "\n".join(lines) + "\n"


def _leaf_tree(value: str) -> str:
    """LightGBM text of a tree that is one leaf worth ``value``."""
    return f"num_leaves=1\nnum_cat=0\nleaf_value={value}\nis_linear=0\nshrinkage=1\n"


def padding_tree() -> str:
    """A one-leaf tree worth 0: fills a family's slot when it has fewer trees than another."""
    return _leaf_tree("0")


def engine_model_text(families: Sequence[FamilyTrees], n_features: int) -> str:
    """LightGBM model text with one "class" per family: tree ``i * K + k`` is family ``k``'s tree ``i``.

    LightGBM sums each class's trees separately, so one raw-score call returns every family's
    own sum; the families' links are applied outside.
    """
    k = len(families)
    rounds = max(len(f.trees) for f in families)
    blocks = []
    for i in range(rounds):
        for j, family in enumerate(families):
            tree = family.trees[i] if i < len(family.trees) else padding_tree()
            blocks.append(f"Tree={i * k + j}\n{tree}\n")
    names = " ".join(f"f{i}" for i in range(n_features))
    infos = " ".join(["none"] * n_features)
    return (
        f"tree\nversion=v4\nnum_class={k}\nnum_tree_per_iteration={k}\nlabel_index=0\n"
        f"max_feature_idx={n_features - 1}\nfeature_names={names}\nfeature_infos={infos}\n\n"
        + "".join(blocks)
        + "end of trees\n"
    )
