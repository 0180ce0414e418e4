"""The RandomForest's trees walked by a small C loop, built with the machine's C compiler.

The forest dominates single-row time: its trees are deep (30 to 80 levels on noisy data), so a
row is a chain of dependent memory loads through hundreds of thousands of nodes. LightGBM's
predictor reads five arrays per node and walks one tree at a time. This walker keeps a node in
16 bytes (float32 threshold, feature, NaN side, both children) and walks 32 trees side by side,
so the memory loads of different trees overlap. The comparison is scikit-learn's own:
``float32(x) <= float32 threshold`` with NaN to the node's ``missing_go_to_left`` side, the
threshold being the largest float32 at or below scikit-learn's float64 one (same decisions).

The C source below is fixed (it does not depend on the model; the model is passed as arrays),
compiled once per process with ``cc -O2`` into a private temporary directory (mode 0700) that
is removed right after loading: no cache, so no file another user could have replaced. Without
a working compiler :func:`forest_walker` returns ``None`` and the forest is evaluated by the
LightGBM predictor instead (same probabilities, slower); the log says so once.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from typing import Any

import numpy as np

from stagewise.serve._tree_tables import largest_float32_at_most

__all__ = ["C_SOURCE", "ForestWalker", "forest_walker"]

_LOG = logging.getLogger("stagewise.serve")

C_SOURCE = r"""
#include <stdint.h>
#include <math.h>

typedef struct {
  float threshold;     /* leaf: unused */
  int16_t feature;     /* -1 for a leaf */
  uint8_t nan_left;
  uint8_t unused;
  int32_t left;        /* leaf: index of its value */
  int32_t right;
} node_t;

#define LANES 32

/* Sum of the leaf values the row reaches in every tree, added in tree order. Trees are walked
   LANES at a time, one level per pass over the trees still inside, so that their memory loads
   overlap. */
double forest_sum(const node_t* nodes, const int64_t* roots, int64_t n_trees,
                  const double* leaf_values, const float* x) {
  double total = 0.0;
  for (int64_t first = 0; first < n_trees; first += LANES) {
    int64_t lanes = n_trees - first < LANES ? n_trees - first : LANES;
    int64_t at[LANES], inside[LANES], n_inside = 0;
    for (int64_t j = 0; j < lanes; ++j) {
      at[j] = roots[first + j];
      if (nodes[at[j]].feature >= 0) inside[n_inside++] = j;
    }
    while (n_inside > 0) {
      int64_t kept = 0;
      for (int64_t k = 0; k < n_inside; ++k) {
        int64_t j = inside[k];
        const node_t* node = nodes + at[j];
        float v = x[node->feature];
        int left = isnan(v) ? node->nan_left : (v <= node->threshold);
        at[j] = left ? node->left : node->right;
        if (nodes[at[j]].feature >= 0) inside[kept++] = j;
      }
      n_inside = kept;
    }
    for (int64_t j = 0; j < lanes; ++j) total += leaf_values[nodes[at[j]].left];
  }
  return total;
}
"""

_NODE = np.dtype(
    [
        ("threshold", "<f4"),
        ("feature", "<i2"),
        ("nan_left", "u1"),
        ("unused", "u1"),
        ("left", "<i4"),
        ("right", "<i4"),
    ]
)
_SUM = ctypes.CFUNCTYPE(
    ctypes.c_double, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p
)
_lock = threading.Lock()
_compiled: list[Any] = []  # [function or None], filled once per process


def _compile() -> Any:
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if compiler is None:
        _LOG.warning("no C compiler found: the forest is scored by LightGBM's predictor (slower)")
        return None
    folder = tempfile.mkdtemp(prefix="stagewise-walker-")  # mode 0700
    try:
        source = os.path.join(folder, "forest_walker.c")
        library = os.path.join(folder, "forest_walker.so")
        with open(source, "w", encoding="utf-8") as handle:
            handle.write(C_SOURCE)
        done = subprocess.run(
            [compiler, "-O2", "-shared", "-fPIC", "-o", library, source, "-lm"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            _LOG.warning("compiling the forest walker failed, LightGBM scores the forest: %s", done.stderr)
            return None
        return _SUM(("forest_sum", ctypes.CDLL(library)))
    except (OSError, subprocess.SubprocessError) as exc:
        _LOG.warning("compiling the forest walker failed, LightGBM scores the forest: %s", exc)
        return None
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # the loaded library stays mapped


def _function() -> Any:
    with _lock:
        if not _compiled:
            _compiled.append(_compile())
        return _compiled[0]


class ForestWalker:
    """A fitted ``RandomForestClassifier`` as flat node records; ``mean(row)`` is P(positive)."""

    def __init__(self, forest: Any, function: Any) -> None:
        parts, roots, leaves = [], [], []
        offset = leaf_offset = 0
        for estimator in forest.estimators_:
            tree = estimator.tree_
            left = np.asarray(tree.children_left, dtype=np.int64)
            is_leaf = left == -1
            nodes = np.zeros(tree.node_count, dtype=_NODE)
            threshold = np.asarray(tree.threshold, dtype=np.float64)
            below = largest_float32_at_most(threshold)
            nodes["threshold"] = np.where(is_leaf, 0.0, below)
            nodes["feature"] = np.where(is_leaf, -1, tree.feature)
            nodes["nan_left"] = np.asarray(tree.missing_go_to_left, dtype=np.uint8)
            leaf_index = np.cumsum(is_leaf) - 1 + leaf_offset
            nodes["left"] = np.where(is_leaf, leaf_index, left + offset)
            nodes["right"] = np.where(is_leaf, 0, np.asarray(tree.children_right, dtype=np.int64) + offset)
            parts.append(nodes)
            roots.append(offset)
            leaves.append(np.asarray(tree.value[is_leaf, 0, 1], dtype=np.float64))
            offset += tree.node_count
            leaf_offset += int(is_leaf.sum())
        self._nodes = np.concatenate(parts)
        self._roots = np.asarray(roots, dtype=np.int64)
        self._leaves = np.concatenate(leaves)
        self._n_trees = len(roots)
        self._n_features = int(forest.n_features_in_)
        self._function = function
        self._addresses = (self._nodes.ctypes.data, self._roots.ctypes.data, self._leaves.ctypes.data)
        self._local = threading.local()

    def mean(self, row: Any) -> float:
        """The forest's P(positive) for one row of float64 numbers (within float32 range)."""
        try:
            buffer, address = self._local.row
        except AttributeError:
            buffer = np.zeros(self._n_features, dtype=np.float32)
            address = buffer.ctypes.data
            self._local.row = (buffer, address)
        buffer[:] = row  # float32, as scikit-learn reads it
        nodes, roots, leaves = self._addresses
        total: float = self._function(nodes, roots, self._n_trees, leaves, address)
        return total / self._n_trees


def forest_walker(forest: Any) -> ForestWalker | None:
    """The compiled walker for ``forest``, or ``None`` when no C compiler works here.

    Set ``STAGEWISE_FAST_NO_CC=1`` to skip the compiler (the forest then goes to LightGBM).
    """
    if os.environ.get("STAGEWISE_FAST_NO_CC") or int(forest.n_features_in_) >= 2**15:
        return None  # asked not to compile, or a feature index would not fit the node's int16
    function = _function()
    return None if function is None else ForestWalker(forest, function)
