"""A Rasa 3 tokenizer for Japanese with SudachiPy (Rasa's WhitespaceTokenizer refuses `ja`).

Tokens keep their place in the original text (entity offsets stay right); each token's lemma is
Sudachi's normalised form (申込 / 申し込み → 申し込み), which CountVectorsFeaturizer uses by default.
Runs inside Rasa's own virtualenv (Python 3.11, rasa==3.6.21, sudachipy, sudachidict-core).
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class SudachiTokenizer(Tokenizer):
    @staticmethod
    def supported_languages() -> list[str] | None:
        return ["ja"]

    @staticmethod
    def required_packages() -> list[str]:
        return ["sudachipy", "sudachidict_core"]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # Rasa's Tokenizer options.
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
            # Sudachi: A (short units), B (middle) or C (named entities and compounds whole).
            "split_mode": "C",
        }

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        from sudachipy import Dictionary, SplitMode

        mode = {"A": SplitMode.A, "B": SplitMode.B, "C": SplitMode.C}[str(config.get("split_mode", "C")).upper()]
        self._tokenizer = Dictionary(dict="core").create(mode=mode)

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SudachiTokenizer:
        return cls(config)

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        text = message.get(attribute) or ""
        tokens: list[Token] = []
        for morpheme in self._tokenizer.tokenize(text):
            surface = morpheme.surface()
            if not surface.strip():
                continue
            tokens.append(Token(surface, morpheme.begin(), lemma=morpheme.normalized_form()))
        return self._apply_token_pattern(tokens)
