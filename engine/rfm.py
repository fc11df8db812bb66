"""The eight RFM classes (R recent?, F high?, M high?) — see shared DOMAIN.md."""

from __future__ import annotations

#: (recent, frequent, monetary) → class name, in the order marketers list them.
RFM_CLASSES: dict[tuple[bool, bool, bool], str] = {
    (True, True, True): "重要价值",
    (True, False, True): "重要发展",
    (False, True, True): "重要保持",
    (False, False, True): "重要挽留",
    (True, True, False): "一般价值",
    (True, False, False): "一般发展",
    (False, True, False): "一般保持",
    (False, False, False): "一般挽留",
}

RFM_CLASS_NAMES: tuple[str, ...] = tuple(RFM_CLASSES.values())

RFM_CLASS_EN: dict[str, str] = {
    "重要价值": "Important value",
    "重要发展": "Important to develop",
    "重要保持": "Important to keep",
    "重要挽留": "Important to win back",
    "一般价值": "General value",
    "一般发展": "General to develop",
    "一般保持": "General to keep",
    "一般挽留": "General to win back",
}

#: The four "important" classes (high M): premium customers get humans (DOMAIN.md).
IMPORTANT_CLASSES: tuple[str, ...] = ("重要价值", "重要发展", "重要保持", "重要挽留")


def rfm_class(recent: bool, frequent: bool, monetary: bool) -> str:
    return RFM_CLASSES[(recent, frequent, monetary)]
