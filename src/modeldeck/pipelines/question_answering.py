"""question-answering: the span of a context that answers a question (extractive QA).

Tokenizer + ``AutoModelForQuestionAnswering`` as the model cards show: start and
end logits over the context tokens, the best span no longer than
``max_answer_len`` tokens, offsets mapped back to the ORIGINAL context string
(``context[start:end] == answer``). Contexts longer than the window are read in
overlapping windows (``doc_stride``); with ``handle_impossible_answer`` the
model may answer "no answer" (``answer == ""``, start = end = 0).
"""

from __future__ import annotations

from ..errors import InvalidInput
from ..spec import Input, Param, TaskSpec, check_text
from ..task import Task


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
                raise InvalidInput(f"{name!r} must be text, not {type(value).__name__}.")
            check_text(value, name)
        if not inputs["context"].strip():
            raise InvalidInput("The context is empty: give the text the answer should come from.")
        if not inputs["question"].strip():
            raise InvalidInput("The question is empty: ask something about the context.")

    def validate(self, inputs, params) -> None:
        for name in ("top_k", "max_answer_len", "max_seq_len", "max_question_len"):
            if params[name] < 1:
                raise InvalidInput(f"{name} must be at least 1, not {params[name]}.")
        if params["max_seq_len"] > self.window:
            raise InvalidInput(
                f"max_seq_len is {params['max_seq_len']}, but {self.model_id} reads at most {self.window} tokens.",
                f"Use --max-seq-len {self.window} or less.",
            )
        if not 0 <= params["doc_stride"] < params["max_seq_len"]:
            raise InvalidInput(
                f"doc_stride ({params['doc_stride']}) must be 0 or more and less than max_seq_len ({params['max_seq_len']}).",
                "The default, 128 with max_seq_len 384, suits most models.",
            )

    def preprocess(self, inputs, max_seq_len=384, doc_stride=128, max_question_len=64, **_):
        tokenizer = self.tokenizer
        question, context = inputs["question"], inputs["context"]
        question_tokens = len(tokenizer(question, add_special_tokens=False)["input_ids"])
        if question_tokens > max_question_len:
            raise InvalidInput(
                f"The question is {question_tokens} tokens; at most {max_question_len} are allowed.",
                "Ask a shorter question, or raise --max-question-len.",
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
            padding="longest",
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            return_tensors="pt",
        )
        context_index = 1 if question_first else 0
        import torch

        in_context, allowed = [], []
        for span in range(encoded["input_ids"].shape[0]):
            ids = encoded["input_ids"][span]
            inside = torch.tensor([s == context_index for s in encoded.sequence_ids(span)])
            in_context.append(inside)
            # Where the start/end softmax may put weight: the context, plus the CLS token ("no answer").
            mask = inside.clone()
            if tokenizer.cls_token_id is not None:
                mask |= ids == tokenizer.cls_token_id
            allowed.append(mask & encoded["attention_mask"][span].bool())
        return {"context": context, "encoded": encoded, "allowed": torch.stack(allowed), "in_context": torch.stack(in_context)}

    def forward(self, batch):
        import torch

        (x,) = batch
        names = [n for n in self.tokenizer.model_input_names if n in x["encoded"]]
        starts, ends = [], []
        total = x["encoded"]["input_ids"].shape[0]
        for first in range(0, total, 16):
            windows = {n: x["encoded"][n][first : first + 16].to(self.device) for n in names}
            out = self.model(**windows)
            starts.append(out.start_logits.float().cpu())
            ends.append(out.end_logits.float().cpu())
        return [(x, torch.cat(starts), torch.cat(ends))]

    def postprocess(self, outputs, top_k=1, max_answer_len=15, handle_impossible_answer=False, **_):
        import torch

        x, start_logits, end_logits = outputs
        context, encoded, allowed = x["context"], x["encoded"], x["allowed"]
        cls_id = self.tokenizer.cls_token_id
        best: dict[tuple[int, int], float] = {}
        null_score = 1.0
        for span in range(start_logits.shape[0]):
            mask = allowed[span]
            start = start_logits[span].masked_fill(~mask, -10000.0).softmax(-1)
            end = end_logits[span].masked_fill(~mask, -10000.0).softmax(-1)
            cls_positions = (encoded["input_ids"][span] == cls_id).nonzero().flatten() if cls_id is not None else []
            for position in cls_positions:
                null_score = min(null_score, float(start[position] * end[position]))
                start[position] = end[position] = 0.0
            # Every (start, end) pair with start <= end < start + max_answer_len, both in the context.
            pairs = torch.triu(torch.outer(start, end)).tril(max_answer_len - 1)
            inside = x["in_context"][span].float()
            pairs = pairs * inside[:, None] * inside[None, :]
            flat = pairs.flatten()
            k = min(top_k, int((flat > 0).sum()))
            if k == 0:
                continue
            scores, indices = flat.topk(k)
            offsets = encoded["offset_mapping"][span]
            for score, index in zip(scores.tolist(), indices.tolist()):
                s, e = divmod(index, pairs.shape[1])
                char_start, char_end = int(offsets[s][0]), int(offsets[e][1])
                key = (char_start, char_end)
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

    @classmethod
    def render(cls, result, inputs) -> str:
        rows = result if isinstance(result, list) else [result]
        lines = []
        for r in rows:
            shown = r["answer"] if r["answer"] else "(no answer)"
            lines.append(f"{shown}\n  score {r['score']:.4f}, characters {r['start']}-{r['end']} of the context")
        return "\n".join(lines)


TASK = QuestionAnswering
