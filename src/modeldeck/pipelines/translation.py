"""translation: text from one language into another with an encoder-decoder model.

Two families, each used the way its model card shows:
- multilingual models whose tokenizer has language-code tokens: NLLB-200
  (FLORES-200 codes: eng_Latn, fra_Latn...), mBART-50 (en_XX...), M2M100 (en,
  fr...). The tokenizer's ``src_lang`` marks the source; the target code is
  forced as the first generated token (``forced_bos_token_id``).
- Marian (Helsinki-NLP/opus-mt-*): one language pair per model; models with
  several targets take a ``>>xxx<<`` token in front of the text.
Text longer than the model's window is translated sentence group by sentence
group (a notice says so).
"""

from __future__ import annotations

import re
import warnings

from .. import generation as gen
from ..errors import InvalidInput, closest
from ..outputs.shapes import STRING, obj
from ..spec import Info, Input, Param, TaskSpec
from ..task import Step
from ._seq2seq import Seq2SeqTask

# Language-code token formats: (pattern of the token, code shown to users from the token).
CODE_FORMATS = (
    (re.compile(r"^[a-z]{3}_[A-Z][a-z]{3}$"), lambda token: token),  # NLLB / FLORES-200: fra_Latn
    (re.compile(r"^[a-z]{2}_[A-Z]{2}$"), lambda token: token),  # mBART-50: fr_XX
    (re.compile(r"^__[a-z]{2,3}__$"), lambda token: token[2:-2]),  # M2M100: __fr__ -> fr
)
MARIAN_TARGET = re.compile(r"^>>([\w-]+)<<$")


class Translation(Seq2SeqTask):
    spec = TaskSpec(
        name="translation",
        summary="Translate text (NLLB-200: 200 languages by FLORES code; Marian opus-mt pairs).",
        default_model="facebook/nllb-200-distilled-600M",
        inputs=(Input("text", "text", help="the text to translate"),),
        output="text",
        output_help='{"translation_text"}',
        output_schema=obj({"translation_text": STRING}),
        params=(
            Param("src_lang", str, None, "language of the text, e.g. eng_Latn (default: eng_Latn, or the model's pair)",
                  stage="preprocess"),
            Param("tgt_lang", str, None, "language to translate into, e.g. fra_Latn (see --list-languages)"),
            gen.MAX_NEW_TOKENS,
            gen.NUM_BEAMS,
        ),
        infos=(Info("list_languages", "Print the language codes this model takes, and exit."),),
        examples=({"text": "The weather is nice today.", "tgt_lang": "fra_Latn"},),
    )

    def load_tokenizer(self):
        with warnings.catch_warnings():
            # Marian's tokenizer suggests sacremoses (punctuation normalisation); it works without.
            warnings.filterwarnings("ignore", message=".*sacremoses")
            return super().load_tokenizer()

    def load(self) -> None:
        super().load()
        specials = list(getattr(self.tokenizer, "extra_special_tokens", None) or [])
        specials += list(getattr(self.tokenizer, "additional_special_tokens", None) or [])
        self.code_tokens: dict[str, str] = {}  # code -> token
        for token in map(str, specials):
            for pattern, code in CODE_FORMATS:
                if pattern.match(token):
                    self.code_tokens.setdefault(code(token), token)
                    break
        # Marian: one source, one target or several (>>fra<< tokens in the vocab).
        self.pair = (getattr(self.tokenizer, "source_lang", None), getattr(self.tokenizer, "target_lang", None))
        self.marian_targets = sorted(
            m.group(1) for token in getattr(self.tokenizer, "encoder", {}) if (m := MARIAN_TARGET.match(token))
        )

    @property
    def multilingual(self) -> bool:
        return bool(self.code_tokens)

    def list_languages(self) -> dict[str, list[str]]:
        """The language codes ``src_lang`` and ``tgt_lang`` take with this model."""
        if self.multilingual:
            codes = sorted(self.code_tokens)
            return {"source": codes, "target": codes}
        source, target = self.pair
        return {"source": [source] if source else [], "target": self.marian_targets or ([target] if target else [])}

    def _unknown(self, which: str, code: str, valid: list[str]) -> InvalidInput:
        near = closest(code, valid)
        hint = f"Nearest: {', '.join(near)}." if near else ""
        return InvalidInput(
            f"Unknown {which} {code!r} for {self.model_id}.",
            f"{hint} 'modeldeck run translation --list-languages -m {self.model_id}' lists the {len(valid)} codes.".strip(),
            param="src_lang" if which.startswith("source") else "tgt_lang",
        )

    def validate(self, inputs, params) -> None:
        super().validate(inputs, params)
        gen.check_decoding(params)
        gen.check_room(params, "max_new_tokens", self.window, self.model_id)
        src, tgt = params.get("src_lang"), params.get("tgt_lang")
        if self.multilingual:
            codes = sorted(self.code_tokens)
            if src is not None and src not in self.code_tokens:
                raise self._unknown("source language", src, codes)
            if tgt is None:
                raise InvalidInput(
                    f"Say which language to translate into: {self.model_id} takes codes like "
                    f"{', '.join(c for c in ('fra_Latn', 'deu_Latn', 'spa_Latn', 'fr_XX', 'fr') if c in self.code_tokens) or codes[0]}.",
                    "Give tgt_lang (CLI: --tgt-lang); --list-languages shows every code.", param="tgt_lang",
                )
            if tgt not in self.code_tokens:
                raise self._unknown("target language", tgt, codes)
            return
        source, target = self.pair
        if src is not None and source and src != source:
            raise InvalidInput(
                f"{self.model_id} translates from {source!r}, not {src!r}.",
                f"Leave src_lang out, or pick a model for {src} (e.g. Helsinki-NLP/opus-mt-{src}-{target or 'en'}).",
                param="src_lang",
            )
        if self.marian_targets:
            if tgt is None:
                raise InvalidInput(
                    f"{self.model_id} translates into several languages: say which with tgt_lang.",
                    f"One of: {', '.join(self.marian_targets[:12])}{'...' if len(self.marian_targets) > 12 else ''}.",
                    param="tgt_lang",
                )
            if tgt not in self.marian_targets:
                raise self._unknown("target language", tgt, self.marian_targets)
        elif tgt is not None and target and tgt != target:
            raise InvalidInput(
                f"{self.model_id} translates into {target!r}, not {tgt!r}.",
                f"Leave tgt_lang out, or pick a model for it (e.g. Helsinki-NLP/opus-mt-{source or 'en'}-{tgt}).",
                param="tgt_lang",
            )

    def plan(self, inputs, params, emit=None):
        """The translation: at once when the text fits the window, else in sentence groups translated
        together (streamed, a group of 8 at a time, each group's text emitted when it is done)."""
        items = self.preprocess(inputs, **params)
        if len(items) == 1:
            (output,) = yield Step(items, stream=emit is not None)
            return self.postprocess(output)
        groups = [items] if emit is None else [items[i : i + 8] for i in range(0, len(items), 8)]
        done: list[str] = []
        for group in groups:
            texts = [self.decode(out).strip() for out in (yield Step(group))]
            if emit is not None:
                emit((" " if done else "") + " ".join(texts))
            done += texts
        return {"translation_text": " ".join(done)}

    def preprocess(self, inputs, src_lang=None, tgt_lang=None, max_new_tokens=None, **_) -> list[dict]:
        """The text's token ids, in sentence groups when it is longer than the window."""
        text = inputs["text"]
        prefix = f">>{tgt_lang}<< " if self.marian_targets else ""
        if self.multilingual:  # the source language lives on the tokenizer (under the model's caller lock)
            self.tokenizer.src_lang = self.code_tokens[src_lang or self._default_source()]
        budget = self.window - gen.special_token_count(self.tokenizer) - self.count(prefix)
        length = self.count(text)
        pieces = [text]
        if length > budget:
            pieces = gen.split_to_fit(text, self.count, budget)
            gen.notice(
                f"The text is {length} tokens, longer than {self.model_id}'s window of {self.window}: "
                f"translated in {len(pieces)} pieces, split at sentence ends."
            )
        items = []
        for piece in pieces:
            item = self.item(prefix + piece)
            if max_new_tokens is None:
                # The model's own output cap (NLLB: 200 tokens) would cut a long piece's translation short;
                # rounded up to 64 so pieces of similar length share a pass.
                room = -(-(2 * len(item["ids"]) + 16) // 64) * 64
                if room > (self.model.generation_config.max_length or 0):
                    item["limit"] = min(room, self.window)
            items.append(item)
        return items

    def generate_kwargs(self, item, params):
        kwargs = super().generate_kwargs(item, {**params, "do_sample": False})
        if self.multilingual:
            kwargs["forced_bos_token_id"] = self.tokenizer.convert_tokens_to_ids(self.code_tokens[params["tgt_lang"]])
        return kwargs

    def _default_source(self) -> str:
        for code in ("eng_Latn", "en_XX", "en"):
            if code in self.code_tokens:
                return code
        return sorted(self.code_tokens)[0]

    def postprocess(self, output, **_):
        return {"translation_text": self.decode(output)}

    @classmethod
    def render_info(cls, name: str, value) -> str:
        if value["source"] == value["target"]:
            return "\n".join(value["source"])
        return f"from: {' '.join(value['source'])}\ninto: {' '.join(value['target'])}"


TASK = Translation
