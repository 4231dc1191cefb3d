"""The embedding model run by ONNX Runtime (fp32, or int8 with per-channel dynamic
quantisation). sentence-transformers' own `backend="onnx"` needs optimum, which this
environment cannot install, so the transformer is exported here once, with torch's
exporter, into a cache folder; loading a cached export needs neither torch nor
transformers. Pooling and normalisation repeat the sentence-transformers pipeline of the
model folder (modules.json, 1_Pooling/config.json), so vectors match the torch backend."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import re
import secrets
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from rag.encoding import Vectors, batch_size_for, resolve_model_path
from rag.errors import ConfigError

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Tokenizer

log = logging.getLogger(__name__)

Precision = Literal["fp32", "int8"]
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_EXPORT_VERSION = 1  # bump when the export recipe changes: old caches are then ignored


def export_folder(model_path: Path, cache_dir: Path) -> Path:
    """Where the exports of this model live: named by the model folder and a hash of what
    the export depends on (weights' size and mtime, configs, recipe), so a changed model
    gets a fresh export instead of a stale one."""
    digest = hashlib.sha256(f"v{_EXPORT_VERSION}\n{model_path.resolve()}\n".encode())
    for path in sorted(model_path.iterdir()):
        if path.is_file():
            info = path.stat()
            digest.update(f"{path.name}:{info.st_size}:{info.st_mtime_ns}\n".encode())
    name = f"{model_path.resolve().parent.name}-{model_path.name}"
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name)
    return cache_dir / f"{slug.strip('-')}-{digest.hexdigest()[:12]}"


def ensure_export(model_path: Path, cache_dir: Path, precision: Precision) -> Path:
    """The ONNX file for `precision`, exported (and quantised) on first use only. Each file
    is written under a temporary name and renamed into place, so an interrupted export
    never leaves a truncated model that a later run would load."""
    folder = export_folder(model_path, cache_dir)
    fp32 = folder / "model.onnx"
    if not fp32.exists():
        folder.mkdir(parents=True, exist_ok=True)
        log.info("exporting %s to ONNX in %s (once)", model_path, folder)
        _atomic(fp32, lambda tmp: _export_fp32(model_path, tmp))
    if precision == "fp32":
        return fp32
    int8 = folder / "model-int8.onnx"
    if not int8.exists():
        log.info("quantising %s to int8 (once)", fp32)
        _atomic(int8, lambda tmp: _quantise(fp32, tmp))
    return int8


def _atomic(target: Path, write: Any) -> None:
    tmp = target.with_name(f".tmp-{secrets.token_hex(4)}-{target.name}")
    try:
        write(tmp)
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _export_fp32(model_path: Path, target: Path) -> None:
    """torch's dynamo exporter, batch and sequence axes dynamic. (The legacy TorchScript
    exporter traces transformers 5's attention mask wrongly: outputs off by ~1.)"""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    transformers_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    model = AutoModel.from_pretrained(
        str(model_path), local_files_only=True, attn_implementation="eager"
    ).eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> torch.Tensor:
            out = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state  # type: ignore[no-any-return]

    example = tuple(torch.ones((2, 8), dtype=torch.int64) for _ in _INPUTS)
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq", max=4096)
    # The exporter reports its steps on stdout (the CLI's stdout carries results only) and
    # warns about axis names and deprecations that are none of the user's business.
    with contextlib.redirect_stdout(io.StringIO()) as said, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            LastHiddenState(),
            example,
            str(target),
            input_names=list(_INPUTS),
            output_names=["last_hidden_state"],
            dynamic_shapes={name: {0: batch, 1: seq} for name in _INPUTS},
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    log.debug("torch.onnx.export: %s", said.getvalue())


def _quantise(fp32: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(fp32, target, per_channel=True, weight_type=QuantType.QInt8)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"{path}: cannot read the model's configuration ({error})") from error
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    return data


def _check_pipeline(model_path: Path) -> None:
    """The ONNX path reproduces Transformer -> mean Pooling -> Normalize only; any other
    sentence-transformers pipeline is refused rather than embedded differently."""
    modules = json.loads((model_path / "modules.json").read_text(encoding="utf-8"))
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    pooling = _read_json(model_path / "1_Pooling" / "config.json") if "Pooling" in kinds else {}
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v]
    if kinds != ["Transformer", "Pooling", "Normalize"] or modes != ["pooling_mode_mean_tokens"]:
        raise ConfigError(
            f"{model_path}: the ONNX backend supports Transformer + mean pooling + Normalize "
            f"models only (this one: {kinds}, {modes}); set RAG_EMBEDDING_BACKEND=torch"
        )


class OnnxEmbedder:
    """The `Embedder` of a sentence-transformers model folder, run by ONNX Runtime."""

    def __init__(
        self, model: str, cache_dir: Path, *, precision: Precision = "fp32", batch_size: int = 32
    ) -> None:
        path = resolve_model_path(model)
        _check_pipeline(path)
        import onnxruntime
        from tokenizers import Tokenizer

        self.name = model
        self.precision = precision
        self.onnx_path = ensure_export(path, cache_dir, precision)
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only: the CLI owns stderr
        # ONNX Runtime's pool threads otherwise spin-wait after each run, taking the cores
        # the search that follows the query's embedding needs (16 ms instead of 8 on 2 cores)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session: onnxruntime.InferenceSession = onnxruntime.InferenceSession(
            str(self.onnx_path), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = [i.name for i in self._session.get_inputs()]
        pooling = _read_json(path / "1_Pooling" / "config.json")
        self.dimension = int(pooling["word_embedding_dimension"])
        st_config = path / "sentence_bert_config.json"
        limit = _read_json(st_config).get("max_seq_length") if st_config.exists() else None
        if limit is None:
            limit = _read_json(path / "config.json").get("max_position_embeddings")
        if limit is None:
            raise ConfigError(f"model {model!r} does not report its input length limit")
        self.max_tokens = int(limit)
        self._counter: Tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._counter.no_truncation()
        self._counter.no_padding()
        self._tokenizer: Tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.enable_truncation(self.max_tokens)
        pad = _read_json(path / "special_tokens_map.json").get("pad_token", "[PAD]")
        pad_token = pad["content"] if isinstance(pad, dict) else str(pad)
        pad_id = self._tokenizer.token_to_id(pad_token)
        self._tokenizer.enable_padding(pad_id=pad_id or 0, pad_token=pad_token)
        self._batch_size = batch_size

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # like lengths batch
        size = batch_size_for(max(len(t) for t in texts), self._batch_size)
        for start in range(0, len(order), size):
            rows = order[start : start + size]
            out[rows] = self._embed_batch([texts[i] for i in rows])
        return out

    def _embed_batch(self, texts: list[str]) -> Vectors:
        encodings = self._tokenizer.encode_batch(texts)
        feeds = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        hidden: Vectors = np.asarray(
            self._session.run(None, {k: feeds[k] for k in self._inputs})[0], dtype=np.float32
        )
        mask = feeds["attention_mask"][..., None].astype(np.float32)
        # sentence-transformers: mean over real tokens (count clamped at 1e-9), then
        # L2 normalisation (norm clamped at 1e-12).
        pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        normalised: Vectors = (pooled / norms).astype(np.float32)
        return normalised

    def count_tokens(self, text: str) -> int:
        """Word pieces including [CLS]/[SEP], as the model will see them."""
        return len(self._counter.encode(text, add_special_tokens=True).ids)
