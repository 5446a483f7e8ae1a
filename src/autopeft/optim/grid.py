"""The encoded grid of a space: every cell, valid or not, and how to list the valid ones (shared by the
optimisers that enumerate small or sparse spaces).

A space's *grid* is the box of encoded index rows (``space.encode``'s values as integers), one cell per
combination of dimension values; ``space.valid_indices`` says which cells are configurations. In the
built-in layouts at least a quarter of the cells are valid (see :func:`is_sparse`), so a random cell is
usually one; a space restricted to listed configurations (a benchmark's table of real trials,
:class:`autopeft.benchmark.problems.TableSpace`) may hold 1 % of its cells or fewer, and then its valid
cells are found by scanning the grid.
"""

from __future__ import annotations

import math

import numpy as np

from autopeft.space import SearchSpace

#: Grids of at most this many cells may be scanned for their valid configurations (a 12-layer paper
#: space has 2^12 x 11^3 = 5.5 million cells; scanning it takes about a second).
SCAN_LIMIT = 2**23

#: Cells checked at once while scanning (bounds the memory of a scan: chunk x dimensions x 8 bytes).
SCAN_CHUNK = 2**16


def grid_cells(space: SearchSpace) -> int:
    """Cells of the encoded grid (valid or not): the product of the dimensions' cardinalities."""
    return math.prod(d.cardinality for d in space.dimensions)


def valid_rows(space: SearchSpace) -> np.ndarray:
    """Every valid configuration of ``space`` as encoded index rows, shape ``(space.size,
    len(space.dimensions))``, int64, in grid order: the last dimension varies fastest (the order of
    ``itertools.product`` and of ``numpy.meshgrid(..., indexing="ij")``).

    Scans all :func:`grid_cells` cells in chunks of :data:`SCAN_CHUNK`; callers keep it to grids of at
    most :data:`SCAN_LIMIT` cells.
    """
    card = tuple(d.cardinality for d in space.dimensions)
    total = grid_cells(space)
    parts = []
    for start in range(0, total, SCAN_CHUNK):
        cells = np.arange(start, min(start + SCAN_CHUNK, total), dtype=np.int64)
        rows = np.stack(np.unravel_index(cells, card), axis=-1).astype(np.int64)
        parts.append(rows[space.valid_indices(rows)])
    return np.concatenate(parts) if parts else np.zeros((0, len(card)), dtype=np.int64)


def is_sparse(space: SearchSpace) -> bool:
    """True when fewer than a quarter of the grid's cells are valid and the grid is small enough to scan
    (:data:`SCAN_LIMIT`): random cells would then often miss, and the optimisers list the valid cells
    instead.

    Never true for :class:`~autopeft.space.SearchSpace` or :class:`~autopeft.space.lora_space.LoraSpace`:
    their valid share is ``(1 - 2^-L) (1 - 1/M)`` (``L`` layer bits, ``M`` module-value combinations, both
    at least 2 choices' worth) or ``(1 - r^-g) (1 - 2^-t)`` (``r >= 2`` ranks in ``g >= 1`` groups, ``t >= 1``
    targets), at least 1/4 either way; so their proposals are those of the random-cell sampling.
    """
    cells = grid_cells(space)
    return cells <= SCAN_LIMIT and 4 * space.size < cells
