"""Sample blocks: a sensor's samples at a fixed rate in one object, as vibration gateways send them.

A structural-health gateway samples an accelerometer at 100 Hz or more and sends each block of
samples (a second, ten seconds) as one message: when the first sample was taken, the rate, and the
values.  Sent as readings that would be a ``{"sensor", "t", "value"}`` object per sample, six
times the bytes and a Python dict each; as a block it is one object::

    {"blocks": [{"sensor": "A-01", "t0": "2026-11-23T10:00:00+08:00", "hz": 100,
                 "values": [0.0123, -0.0081, …], "unit": "m/s2"}]}

- ``sensor``, ``unit`` (optional) — as for a reading; the unit applies to every value of the block.
- ``t0`` — the time of ``values[0]``: ISO-8601 with a UTC offset, or epoch seconds, read as a reading's
  ``t`` is (to the millisecond: epoch seconds rounded, ISO-8601 fractions cut).
- ``hz`` — samples per second, a JSON number above 0 and at most ``MAX_HZ`` (1,000): times are whole
  milliseconds, so a faster rate would put two samples on one millisecond.
- ``values`` — the samples, a non-empty list of JSON numbers in the block's unit.

Sample ``k`` is stored as a reading at ``t0 + round(k · 1000 / hz)`` ms, rounded half up, so 100 Hz is
exact 10 ms steps and 300 Hz steps of 3 or 4 ms (0, 3, 7, 10, 13, 17, … never more than half a
millisecond from the true time, never two samples on one millisecond).  The expansion is NumPy
over whole columns: a block is never turned into a Python object per sample.

**Validation** is the readings' own (``validate.Validator``), so a block's samples are refused for
what a reading would be, with the same words, and become the same dead letters (one per refused
sample, holding its sensor, its time in epoch seconds, its value and unit, so it can be sent again
once fixed).  What concerns the whole block — its sensor, ``t0``, ``hz``, its unit, an unknown
field — is checked once per block (a unit once per kind and unit, as for readings) and refuses
every sample of the block with that one message (a field named as ``blocks[2].hz``).  A sample
that is not a number, null, or not finite (``blocks[2].values[17]``) is refused alone and the
block's other samples are stored.  A block that is not an object, or whose ``values`` is not a
non-empty list, is one refused reading.  The samples of a message are counted with its readings
against ``max_batch_readings``.  A sample whose (sensor, time) is already stored — a block sent
again, or two blocks that overlap — is counted as a duplicate, never stored twice (the first one
stored stays).

A sensor that sends blocks is registered with ``interval_s`` of its sample period (0.01 at 100 Hz:
the bridge analyst reads a raw accelerometer's rate from it).  The no-data check judges a sensor
sampled faster than once a second by blocks of up to ``detect.health.BLOCK_S`` (ten seconds), so
the silence between two blocks is no fault; a gateway silent for five such blocks is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from itertools import chain

import numpy as np

from ..batch import I64
from .decode import shown
from .validate import (
    NAIVE_TIME,
    Parsed,
    Rejection,
    Validator,
    assemble,
    dead_letters,
    encode_units,
    merge_by_reading,
)

BLOCK_FIELDS = ("sensor", "t0", "hz", "values", "unit")
MAX_HZ = 1000.0
"""The fastest sampling rate accepted: one sample a millisecond, the resolution of a reading's time."""
FAR_MS = 1e15  # some 30,000 years: beyond any time accepted, within int64 after any t0
BLOCK_EXAMPLE = ('{"blocks": [{"sensor": "A-01", "t0": "2026-11-23T10:00:00+08:00", "hz": 100, '
                 '"values": [0.0123, -0.0081, 0.0102], "unit": "m/s2"}]}')
BlockName = Callable[[int], str]


def block_name(b: int) -> str:
    """How a JSON body's block is named in messages: ``blocks[2]``."""
    return f"blocks[{b}]"


def samples_in(blocks: Sequence[object]) -> int:
    """How many readings ``blocks`` hold: the length of each one's ``values`` list, 1 for a block that has none."""
    return sum(len(v) if isinstance(v, list) and v else 1
               for v in (b.get("values") if isinstance(b, dict) else None for b in blocks))


def sample_offsets_ms(k: I64, hz: np.ndarray) -> I64:
    """Milliseconds from a block's ``t0`` to its samples ``k`` at ``hz``: ``k · 1000 / hz`` rounded half up
    (at most ``FAR_MS``: a rate so slow that a sample falls past it is refused by its time)."""
    with np.errstate(over="ignore", divide="ignore"):
        return np.floor(np.minimum(k * 1000.0 / hz, FAR_MS) + 0.5).astype(np.int64)


def validate_blocks(blocks: Sequence[object], validator: Validator, source: str | Sequence[str],
                    name: BlockName = block_name, first_row: int = 0) -> Parsed:
    """Validate sample blocks (see the module docstring) as readings: one row per sample, in block order;
    rejections indexed from ``first_row`` (the readings before them in the message), dead letters from
    ``source`` (one for all, or one per block), each block named in messages by ``name(b)``."""
    nb = len(blocks)
    empty: dict[str, object] = {}
    objs = [b if isinstance(b, dict) else empty for b in blocks]
    lists = [v if isinstance(v, list) and v else [v] for v in (o.get("values") for o in objs)]
    broken = {b: r for b in range(nb) if (r := _broken(blocks[b], name(b))) is not None}  # refused whole
    counts = np.fromiter(map(len, lists), np.int64, nb)
    n = int(counts.sum())
    first = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    block_of = np.repeat(np.arange(nb, dtype=np.int64), counts)
    k = np.arange(n, dtype=np.int64) - first[block_of]

    def block_field(b: int, col: str) -> str:
        return f"{name(b)}.{'t0' if col == 't' else col}"

    def sample_field(i: int, col: str) -> str:
        b = int(block_of[i])
        return f"{name(b)}.values[{k[i]}]" + (" (its time, t0 + index / hz)" if col == "t" else "") \
            if col in ("value", "t") else block_field(b, col)

    # the block's own fields, once per block
    per_block: list[Rejection] = []
    idx_b = validator.sensors([o.get("sensor") for o in objs], block_field, per_block)
    t0_raw = [o.get("t0") for o in objs]
    t0_refused: list[Rejection] = []
    t0_b = validator.times(t0_raw, block_field, t0_refused)
    per_block += t0_refused
    t0_ok = np.ones(nb, np.bool_)
    t0_ok[[r.index for r in t0_refused]] = False
    hz_b = np.array([o["hz"] if b not in broken else 1.0 for b, o in enumerate(objs)], np.float64)
    units_b = [o.get("unit") for o in objs]
    # then every sample: its time and value, its unit's conversion
    idx = idx_b[block_of]
    t_ms = t0_b[block_of] + sample_offsets_ms(k, hz_b[block_of])
    unread = (t0_b <= NAIVE_TIME)[block_of]
    t_ms[unread] = t0_b[block_of][unread]
    flat = list(chain.from_iterable(lists))
    per_sample: list[Rejection] = []
    values = validator.values(flat, sample_field, per_sample)
    if any(u is not None for u in units_b):
        codes, names = encode_units(units_b)
        values = validator.units(idx, values, codes[block_of], names, sample_field, per_sample)
    validator.check_times(np.where(t0_ok[block_of], t_ms, validator.earliest_ms),  # a block's end in the future
                          _SampleTime(t_ms), sample_field, per_sample)  # type: ignore[arg-type]
    # a block's rejection is each of its samples'; a broken block has its own message only
    whole = [Rejection(b, *why) for b, why in broken.items()]
    whole += [r for r in per_block if r.index not in broken]
    rows = [replace(r, index=int(i)) for r in whole for i in range(first[r.index], first[r.index] + counts[r.index])]
    rows += [r for r in per_sample if int(block_of[r.index]) not in broken]
    rejections = merge_by_reading(rows)
    batch, _ = assemble(idx, t_ms, values, rejections)
    sources = source if isinstance(source, str) else _PerSample(source, block_of)
    dead = dead_letters(rejections, sources,  # type: ignore[arg-type]  # read at the refused rows only
                        sensor=_PerSample([o.get("sensor") for o in objs], block_of),  # type: ignore[arg-type]
                        t=_SampleTimes(t_ms, t0_raw, block_of), value=flat,  # type: ignore[arg-type]
                        unit=_PerSample(units_b, block_of))  # type: ignore[arg-type]
    if first_row:
        rejections = [replace(r, index=r.index + first_row) for r in rejections]
    return Parsed(batch, rejections, dead, n)


def _broken(block: object, where: str) -> tuple[str, object, str] | None:
    """Why a block cannot be read as samples at all (not an object, an unknown field, no list of values, no
    usable rate) as (field, value, message), or None."""
    if not isinstance(block, dict):
        return where, block, (f"{where}: {shown(block)} is not an object; send "
                              '{"sensor": ..., "t0": ..., "hz": ..., "values": [...]}')
    extra = set(block) - set(BLOCK_FIELDS)
    if extra:
        key = min(extra)
        f = f"{where}.{key if len(key) <= 80 else key[:60] + '…'}"
        hint = " (a block's first sample's time is t0, its samples are values)" if key in ("t", "value") else ""
        return f, key, f"{f}: unknown field{hint}; send only {', '.join(BLOCK_FIELDS)} (check the spelling)"
    values, f = block.get("values"), f"{where}.values"
    if values is None:
        return f, None, f"{f} is missing; send the samples as a non-empty list of numbers"
    if not isinstance(values, list):
        return f, values, f"{f}: {shown(values)} is not a list; send the samples as a list of numbers, e.g. [0.0123]"
    if not values:
        return f, values, f"{f} is empty; send at least one sample, or leave the block out"
    hz, f = block.get("hz"), f"{where}.hz"
    if hz is None:
        return f, None, f"{f} is missing; send the sampling rate in samples per second, e.g. 100"
    if type(hz) is not float and type(hz) is not int:
        return f, hz, f"{f}: {shown(hz)} is not a number; send the sampling rate in samples per second, e.g. 100"
    if math.isfinite(hz) and hz > MAX_HZ:
        return f, hz, (f"{f}: {shown(hz)} Hz is above the most accepted, {MAX_HZ:.0f} Hz (a reading's time is a "
                       f"whole millisecond); send at most {MAX_HZ:.0f} samples a second (decimate on the gateway)")
    if not (math.isfinite(hz) and hz > 0):
        return f, hz, (f"{f}: {shown(hz)} is not a sampling rate; send the samples per second, above 0 and at most "
                       f"{MAX_HZ:.0f}")
    return None


class _PerSample:
    """A block column read at a sample's row (for dead letters, at the refused rows only)."""

    def __init__(self, per_block: Sequence[object], block_of: I64) -> None:
        self.per_block, self.block_of = per_block, block_of

    def __getitem__(self, i: int) -> object:
        return self.per_block[int(self.block_of[i])]


class _SampleTime:
    """A sample's time in UTC (``2026-11-23T02:00:05.250Z``), for a message about it."""

    def __init__(self, t_ms: I64) -> None:
        self.t_ms = t_ms

    def __getitem__(self, i: int) -> object:
        return f"{np.datetime64(int(self.t_ms[i]), 'ms')}Z"


class _SampleTimes:
    """A refused sample's time for its dead letter: epoch seconds if its block's ``t0`` was read, else that ``t0``
    as sent (so a dead letter can be sent again as a reading once fixed)."""

    def __init__(self, t_ms: I64, t0_raw: Sequence[object], block_of: I64) -> None:
        self.t_ms, self.t0_raw, self.block_of = t_ms, t0_raw, block_of

    def __getitem__(self, i: int) -> object:
        return int(self.t_ms[i]) / 1000 if self.t_ms[i] > NAIVE_TIME else self.t0_raw[int(self.block_of[i])]
