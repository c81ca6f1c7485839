"""The label set: one source of truth for event types, modalities and IOB2 tags.

Everything that needs a type name, a tag or a label id imports it from here,
so adding a type is a one-line change that every module, config check, metric
and exported ``id2label`` follows.
"""

from __future__ import annotations

#: The event types of ``shared/spec/event_schema.md`` (v1.1), in label-id order.
EVENT_TYPES: tuple[str, ...] = ("WARNING", "DEPLOYMENT", "VISIT", "ANNEXATION")

#: Allowed values of the optional ``modality`` attribute of an event mention.
MODALITIES: tuple[str, ...] = ("asserted", "planned", "hypothetical", "negated")

#: The only tagging scheme the model is trained with.
TAGGING_SCHEME = "IOB2"

#: Label id used for positions that take no part in the loss (PyTorch's
#: ``CrossEntropyLoss(ignore_index=-100)``): special tokens, padding and,
#: optionally, continuation sub-tokens.
IGNORE_INDEX = -100


def iob2_labels(types: tuple[str, ...] = EVENT_TYPES) -> list[str]:
    """Return the IOB2 label list in id order: ``["O", "B-T1", "I-T1", "B-T2", ...]``.

    Args:
        types: event type names; defaults to :data:`EVENT_TYPES`.

    Returns:
        A list of ``1 + 2 * len(types)`` strings; index = label id.
    """
    labels = ["O"]
    for t in types:
        labels += [f"B-{t}", f"I-{t}"]
    return labels


LABELS: list[str] = iob2_labels()
LABEL2ID: dict[str, int] = {label: i for i, label in enumerate(LABELS)}
ID2LABEL: dict[int, str] = {i: label for i, label in enumerate(LABELS)}


def split_tag(label: str) -> tuple[str, str | None]:
    """Split an IOB2 label into ``(prefix, type)``: ``"B-VISIT" -> ("B", "VISIT")``, ``"O" -> ("O", None)``.

    Raises:
        ValueError: if the label is not ``O`` or ``B-``/``I-`` followed by a type.
    """
    if label == "O":
        return "O", None
    prefix, sep, etype = label.partition("-")
    if not sep or prefix not in ("B", "I") or not etype:
        raise ValueError(f"not an IOB2 label: {label!r}")
    return prefix, etype
