"""Reading samples from X a chunk or a batch at a time, so no full-size copy is ever made.

``fit``, ``partial_fit``, ``transform``, ``score_samples`` and ``inpaint`` all read X
through an :class:`ArraySource`: numpy arrays of any numeric dtype (uint8 images stay
uint8), ``np.memmap`` (read-only files work; never read whole) and other array-likes
with ``shape``, ``dtype`` and slicing, such as h5py datasets. Every chunk is checked for
infinity as it is read, with its row range in the message. :class:`ScaledRows` pairs a
source with the fitted scaler and serves the training batches: a full random
permutation for arrays in memory, contiguous chunks in a random order shuffled within a
buffer for arrays on disk, so reads stay sequential.
"""

from __future__ import annotations

import ctypes
import math
import mmap
import sys
import warnings

import numpy as np
import torch
from sklearn.utils import gen_batches

from ._inputs import Layout

CHUNK_BYTES = 8 * 2**20  # float64 bytes per chunk read for checks and statistics
DISK_CHUNK_BATCHES = 4  # batches per contiguous read of an on-disk array
DISK_BUFFER_CHUNKS = 8  # chunks shuffled together


class ArraySource:
    """Rows of X, read on demand and shaped as samples ``(k, *layout.sample_shape)``."""

    def __init__(self, X, layout: Layout, missing_value=None):
        self.X = X
        self.layout = layout
        self.missing_value = missing_value  # a placeholder read as NaN (the imputer's)
        self.n_samples = int(X.shape[0])
        self.is_float = np.dtype(X.dtype).kind == "f"
        # memmaps and array-likes that are not numpy arrays (h5py datasets) live on disk
        self.on_disk = isinstance(X, np.memmap) or not isinstance(X, np.ndarray)
        self.seen_missing = np.zeros(layout.n_features, dtype=bool)  # features, so far

    def __len__(self) -> int:
        return self.n_samples

    def chunk_rows(self, target_bytes: int = CHUNK_BYTES) -> int:
        return max(1, target_bytes // (8 * self.layout.n_features))

    def read(self, rows) -> np.ndarray:
        """Samples at ``rows`` (a slice or an index array), checked for infinity."""
        values = self.X[rows]
        if isinstance(values, np.memmap):  # a copy, and the file's pages let go
            values, mapped = np.array(values), values
            release_pages(mapped)
        samples = np.asarray(values).reshape(len(values), *self.layout.sample_shape)
        if self.missing_value is not None:
            samples = samples if self.is_float else samples.astype(np.float64)
            samples = np.where(samples == self.missing_value, np.nan, samples)
        if self.is_float or self.missing_value is not None:
            self.seen_missing |= np.isnan(samples).reshape(len(samples), -1).any(axis=0)
        if self.is_float and np.isinf(samples).any():
            where = np.flatnonzero(np.isinf(samples.reshape(len(samples), -1)).any(axis=1))
            first = _row_numbers(rows, self.n_samples)[where[0]]
            raise ValueError(
                f"X holds infinity (in row {first}, among the rows read at "
                f"{_describe(rows, self.n_samples)}). Replace it with NaN to mark the entry "
                "as missing, or with a finite value."
            )
        return samples

    def chunks(self, rows: int | None = None):
        """``(start, stop, samples)`` over X in order, ``rows`` samples at a time."""
        for batch in gen_batches(self.n_samples, rows or self.chunk_rows()):
            yield batch.start, batch.stop, self.read(batch)


class ScaledRows(torch.utils.data.Dataset):
    """A source and the fitted scaler: float32 training batches, made one batch at a time."""

    def __init__(self, source: ArraySource, scaler):
        self.source = source
        self.scaler = scaler

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.scaler.to_tensor(self.source.read(slice(index, index + 1)))[0]

    def batches(self, batch_size: int, generator: torch.Generator | None):
        """Scaled batches: in order without a generator, else shuffled (see the module doc)."""
        if generator is None:
            for _, _, samples in self.source.chunks(batch_size):
                yield self.scaler.to_tensor(samples)
        elif self.source.on_disk:
            yield from self._disk_batches(batch_size, generator)
        else:
            order = host_permutation(len(self), generator)
            for start in range(0, len(self), batch_size):
                yield self.scaler.to_tensor(self.source.read(order[start : start + batch_size]))

    def _disk_batches(self, batch_size: int, generator: torch.Generator):
        chunk = batch_size * DISK_CHUNK_BATCHES
        n_chunks = math.ceil(len(self) / chunk)
        chunk_order = host_permutation(n_chunks, generator).tolist()
        carried = None
        for first in range(0, n_chunks, DISK_BUFFER_CHUNKS):
            parts = [self.source.read(slice(c * chunk, min((c + 1) * chunk, len(self))))
                     for c in chunk_order[first : first + DISK_BUFFER_CHUNKS]]
            if carried is not None:
                parts.insert(0, carried)
            buffer = np.concatenate(parts)
            buffer = buffer[host_permutation(len(buffer), generator)]
            last = first + DISK_BUFFER_CHUNKS >= n_chunks
            full = len(buffer) if last else len(buffer) // batch_size * batch_size
            for start in range(0, full, batch_size):
                yield self.scaler.to_tensor(buffer[start : min(start + batch_size, full)])
            carried = buffer[full:] if full < len(buffer) else None


class DeviceRows(torch.utils.data.Dataset):
    """The whole scaled training set held on the training device, filled a chunk at a
    time: a batch is then one gather (``randperm`` + ``index_select``) with no host work."""

    def __init__(self, rows: ScaledRows, device):
        source = rows.source
        self.tensor = torch.empty((len(source), *source.layout.sample_shape),
                                  dtype=torch.float32, device=device)
        for start, stop, samples in source.chunks():
            self.tensor[start:stop].copy_(rows.scaler.to_tensor(samples).pin_memory(),
                                          non_blocking=True)

    def __len__(self) -> int:
        return len(self.tensor)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.tensor[index]

    def batches(self, batch_size: int, generator: torch.Generator | None):
        if generator is None:
            yield from self.tensor.split(batch_size)
            return
        order = torch.randperm(len(self), generator=generator, device=generator.device)
        for index in order.split(batch_size):
            yield self.tensor.index_select(0, index)


def sample_rows(source: ArraySource, n_rows: int, seed: int) -> np.ndarray:
    """Up to ``n_rows`` samples from rows drawn at random without replacement, in file
    order; X on disk is read in runs of consecutive rows (slices, as h5py reads best)."""
    n = len(source)
    rows = np.sort(np.random.default_rng(seed).choice(n, size=min(n, n_rows), replace=False))
    if not source.on_disk:
        return source.read(rows)
    runs = np.split(rows, np.flatnonzero(np.diff(rows) != 1) + 1)
    return np.concatenate([source.read(slice(run[0], run[-1] + 1)) for run in runs])


def fits_on_device(n_bytes: int, device) -> bool:
    """Whether ``n_bytes`` of training data should live on a CUDA device: under a quarter
    of its free memory, leaving the rest to the network."""
    device = torch.device(device)
    if device.type != "cuda":
        return False
    free, _ = torch.cuda.mem_get_info(device)
    return n_bytes < free / 4


def host_permutation(n: int, generator: torch.Generator) -> np.ndarray:
    """A random order of ``n`` rows, drawn on the generator's device, for indexing X on the
    host (one copy an epoch)."""
    return torch.randperm(n, generator=generator, device=generator.device).cpu().numpy()


def release_pages(mapped: np.ndarray) -> None:
    """Let the kernel drop the pages of a file mapping under ``mapped``, once read.

    Pages of a memmap that were read stay in the process's resident memory until the
    kernel needs them, so an epoch over a large file would grow it by the file's size;
    dropped pages are read from the file again if touched. Linux only (elsewhere a no-op).
    """
    advice = getattr(mmap, "MADV_DONTNEED", None)
    if advice is None or _LIBC is None or mapped.size == 0 or not mapped.flags.c_contiguous:
        return
    start = mapped.__array_interface__["data"][0]
    first = start - start % mmap.PAGESIZE
    _LIBC.madvise(ctypes.c_void_p(first), ctypes.c_size_t(start + mapped.nbytes - first),
                  advice)


def _libc():
    try:
        return ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
    except OSError:
        return None


_LIBC = _libc()


def _row_numbers(rows, n: int) -> np.ndarray:
    return np.arange(n)[rows] if isinstance(rows, slice) else np.asarray(rows)


def _describe(rows, n: int) -> str:
    if isinstance(rows, slice):
        start, stop, _ = rows.indices(n)
        return f"rows {start}-{stop - 1}"
    return f"{len(rows)} shuffled rows"


def scaling_statistics(source: ArraySource) -> tuple[np.ndarray, np.ndarray]:
    """``(offset, span)`` of every observed entry in one pass over X, in float64:
    per-channel minimum and range for images, per-feature mean and standard deviation
    for tables (merged across chunks as in Chan et al., 1979, which stays accurate
    where a running sum of squares would not). NaN where nothing was observed."""
    if source.layout.is_image:
        low = high = None
        for _, _, samples in source.chunks():
            values = samples.astype(np.float64, copy=False)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN channels: NaN
                chunk_low = np.nanmin(values, axis=(0, 2, 3))
                chunk_high = np.nanmax(values, axis=(0, 2, 3))
            low = chunk_low if low is None else np.fmin(low, chunk_low)
            high = chunk_high if high is None else np.fmax(high, chunk_high)
        return low[:, None, None], (high - low)[:, None, None]
    count = mean = m2 = None
    for _, _, samples in source.chunks():
        values = samples.astype(np.float64, copy=False)
        observed = ~np.isnan(values)
        n = observed.sum(axis=0)
        with warnings.catch_warnings():  # all-NaN features, and overflow: checked by Scaler
            warnings.simplefilter("ignore", RuntimeWarning)
            chunk_mean = np.nanmean(values, axis=0)
            chunk_m2 = np.nansum((values - chunk_mean) ** 2, axis=0)
        if count is None:
            count, mean, m2 = n, np.where(n > 0, chunk_mean, 0.0), chunk_m2
            continue
        total = count + n
        safe = np.maximum(total, 1)
        delta = np.where(n > 0, chunk_mean, mean) - mean
        mean = mean + delta * n / safe
        m2 = m2 + chunk_m2 + delta**2 * count * n / safe
        count = total
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, mean, np.nan), np.sqrt(m2 / count)
