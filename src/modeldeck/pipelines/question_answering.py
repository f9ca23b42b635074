"""question-answering: the span of a context that answers a question (extractive QA).

Tokenizer + ``AutoModelForQuestionAnswering`` as the model cards show: start and
end logits over the context tokens, the best span no longer than
``max_answer_len`` tokens, offsets mapped back to the ORIGINAL context string
(``context[start:end] == answer``). Contexts longer than the window are read in
overlapping windows (``doc_stride``); with ``handle_impossible_answer`` the
model may answer "no answer" (``answer == ""``, start = end = 0).
"""

from __future__ import annotations

from ..errors import InvalidInput, about
from ..outputs.shapes import INTEGER, NUMBER, STRING, array, obj
from ..spec import Input, Param, TaskSpec, check_text
from ..task import Parts, Task


ANSWER = obj({"answer": STRING, "score": NUMBER, "start": INTEGER, "end": INTEGER})
OUTPUT_SCHEMA = {"anyOf": [ANSWER, array(ANSWER)]}  # one answer, or a list of them best first when top_k > 1


class QuestionAnswering(Task):
    spec = TaskSpec(
        name="question-answering",
        summary="Find the answer to a question in a context (extractive: the answer is a span of the context).",
        default_model="deepset/roberta-base-squad2",
        inputs=(
            Input("question", "text", help="the question"),
            Input("context", "text", help="the text that holds the answer"),
        ),
        output="answer",
        output_help='{"answer", "score", "start", "end"} (a list when top_k > 1)',
        output_schema=OUTPUT_SCHEMA,
        params=(
            Param("top_k", int, 1, "how many answers, best first", min=1, stage="postprocess"),
            Param("max_answer_len", int, 15, "longest answer, in tokens", min=1, stage="postprocess"),
            Param(
                "handle_impossible_answer", bool, False, 'allow "no answer" (an empty answer) when the model says so',
                stage="postprocess",
            ),
            Param("max_seq_len", int, 384, "tokens per window (question + part of the context)", min=1, stage="preprocess"),
            Param(
                "doc_stride", int, 128, "tokens shared by consecutive windows of a long context", min=0, stage="preprocess"
            ),
            Param("max_question_len", int, 64, "longest question, in tokens", min=1, stage="preprocess"),
        ),
        aliases=("qa",),
        examples=({"question": "Where do I live?", "context": "My name is Wolfgang and I live in Berlin."},),
    )
    max_batch_size = 16  # windows per pass, from any calls

    def load(self) -> None:
        from transformers import AutoModelForQuestionAnswering, AutoTokenizer

        from ..backends.onnx import load_encoder
        from ..backends.transformers import load_processor
        from ..generation import model_window

        self.tokenizer = load_processor(AutoTokenizer, self.model_path)
        if not getattr(self.tokenizer, "is_fast", False):
            raise InvalidInput(
                f"{self.model_id}'s tokenizer cannot map tokens back to characters, which extractive QA needs.",
                "Pick a model with a tokenizer.json (a 'fast' tokenizer).",
            )
        # The torch model, or its ONNX Runtime stand-in (runtime="onnx", or a stored graph under "auto").
        self.model = load_encoder(self, AutoModelForQuestionAnswering, self.tokenizer, ("start_logits", "end_logits"))
        self.window = model_window(self.model, self.tokenizer, default=512)

    @classmethod
    def check(cls, inputs, params) -> None:
        for name in ("question", "context"):
            value = inputs.get(name)
            if not isinstance(value, str):
                raise InvalidInput(f"{name!r} must be text, not {type(value).__name__}.", param=name)
            with about(name):
                check_text(value, name)
        if not inputs["context"].strip():
            raise InvalidInput("The context is empty: give the text the answer should come from.", param="context")
        if not inputs["question"].strip():
            raise InvalidInput("The question is empty: ask something about the context.", param="question")

    def validate(self, inputs, params) -> None:
        for name in ("top_k", "max_answer_len", "max_seq_len", "max_question_len"):
            if params[name] < 1:
                raise InvalidInput(f"{name} must be at least 1, not {params[name]}.", param=name)
        if params["max_seq_len"] > self.window:
            raise InvalidInput(
                f"max_seq_len is {params['max_seq_len']}, but {self.model_id} reads at most {self.window} tokens.",
                f"Use --max-seq-len {self.window} or less.", param="max_seq_len",
            )
        if not 0 <= params["doc_stride"] < params["max_seq_len"]:
            raise InvalidInput(
                f"doc_stride ({params['doc_stride']}) must be 0 or more and less than max_seq_len ({params['max_seq_len']}).",
                "The default, 128 with max_seq_len 384, suits most models.", param="doc_stride",
            )

    def preprocess(self, inputs, max_seq_len=384, doc_stride=128, max_question_len=64, **_) -> Parts:
        """The question with each window of the context: one part per window, each run on its own."""
        import torch

        tokenizer = self.tokenizer
        question, context = inputs["question"], inputs["context"]
        question_tokens = len(tokenizer(question, add_special_tokens=False)["input_ids"])
        if question_tokens > max_question_len:
            raise InvalidInput(
                f"The question is {question_tokens} tokens; at most {max_question_len} are allowed.",
                "Ask a shorter question, or raise --max-question-len.", param="question",
            )
        room = max_seq_len - question_tokens - tokenizer.num_special_tokens_to_add(pair=True)
        if room < 1:
            raise InvalidInput(
                f"The question ({question_tokens} tokens) leaves no room for the context in a {max_seq_len}-token window.",
                "Ask a shorter question, or raise --max-seq-len.",
            )
        # The stride must leave each window some new context.
        stride = min(doc_stride, room - 1)
        question_first = tokenizer.padding_side == "right"
        encoded = tokenizer(
            question if question_first else context,
            context if question_first else question,
            truncation="only_second" if question_first else "only_first",
            max_length=max_seq_len,
            stride=stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
        )
        context_index = 1 if question_first else 0
        names = [n for n in tokenizer.model_input_names if n in encoded]
        windows = Parts()
        for span in range(len(encoded["input_ids"])):
            ids = torch.tensor(encoded["input_ids"][span])
            inside = torch.tensor([s == context_index for s in encoded.sequence_ids(span)])
            # Where the start/end softmax may put weight: the context, plus the CLS token ("no answer").
            allowed = inside.clone()
            if tokenizer.cls_token_id is not None:
                allowed |= ids == tokenizer.cls_token_id
            windows.append({
                "tokens": {n: encoded[n][span] for n in names}, "context": context, "allowed": allowed,
                "in_context": inside, "offsets": encoded["offset_mapping"][span],
            })
        return windows

    def cost(self, window) -> int:
        return len(window["tokens"]["input_ids"])

    def forward(self, batch):
        from ..backends.transformers import pad_batch

        encoded = {n: v.to(self.device) for n, v in pad_batch(self.tokenizer, [w["tokens"] for w in batch]).items()}
        out = self.model(**encoded)
        starts, ends = out.start_logits.float().cpu(), out.end_logits.float().cpu()
        left = getattr(self.tokenizer, "padding_side", "right") == "left"
        width = starts.shape[1]
        outputs = []
        for row, window in enumerate(batch):
            n = len(window["tokens"]["input_ids"])
            cut = slice(width - n, width) if left else slice(0, n)
            outputs.append((window, starts[row, cut], ends[row, cut]))
        return outputs

    def postprocess(self, outputs, top_k=1, max_answer_len=15, handle_impossible_answer=False, **_):
        """The best spans over all windows, as characters of the context."""
        import torch

        cls_id = self.tokenizer.cls_token_id
        best: dict[tuple[int, int], float] = {}
        null_score = 1.0
        context = ""
        for window, start_logits, end_logits in outputs:
            context = window["context"]
            mask = window["allowed"]
            start = start_logits.masked_fill(~mask, -10000.0).softmax(-1)
            end = end_logits.masked_fill(~mask, -10000.0).softmax(-1)
            ids = torch.tensor(window["tokens"]["input_ids"])
            cls_positions = (ids == cls_id).nonzero().flatten() if cls_id is not None else []
            for position in cls_positions:
                null_score = min(null_score, float(start[position] * end[position]))
                start[position] = end[position] = 0.0
            # Every (start, end) pair with start <= end < start + max_answer_len, both in the context.
            pairs = torch.triu(torch.outer(start, end)).tril(max_answer_len - 1)
            inside = window["in_context"].float()
            pairs = pairs * inside[:, None] * inside[None, :]
            flat = pairs.flatten()
            k = min(top_k, int((flat > 0).sum()))
            if k == 0:
                continue
            scores, indices = flat.topk(k)
            offsets = window["offsets"]
            for score, index in zip(scores.tolist(), indices.tolist()):
                s, e = divmod(index, pairs.shape[1])
                key = (int(offsets[s][0]), int(offsets[e][1]))
                if score > best.get(key, -1.0):
                    best[key] = score
        answers = [
            {"answer": context[s:e], "score": score, "start": s, "end": e} for (s, e), score in best.items()
        ]
        if handle_impossible_answer:
            answers.append({"answer": "", "score": null_score, "start": 0, "end": 0})
        answers.sort(key=lambda a: -a["score"])
        answers = answers[:top_k]
        if not answers:  # nothing scored above zero: the model sees no answer at all
            answers = [{"answer": "", "score": null_score, "start": 0, "end": 0}]
        return answers[0] if top_k == 1 else answers


TASK = QuestionAnswering
