"""Finding things on a screen image: text through Tesseract, and images by template matching.

Template matching is normalised cross-correlation computed with numpy's FFT, so it needs no OpenCV;
a score of 1.0 is an exact match and the original's default threshold is 0.8.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from autonomic.worker.outcome import TaskFailed
from autonomic.worker.screen import EXTRA_HINT

if TYPE_CHECKING:
    from PIL.Image import Image

ENGINES = ("tesseract",)


@dataclass(frozen=True)
class Match:
    """Where something was found: its centre on the image, and how sure the match is (0..1)."""

    x: int
    y: int
    score: float


def ocr(image: Image, lang: str = "eng") -> str:
    """The text Tesseract reads in `image`."""
    return str(_tesseract("image_to_string", image, lang))


def find_text(image: Image, text: str, lang: str = "eng") -> Match | None:
    """The centre of the first run of words on one line that reads `text` (case and punctuation ignored)."""
    wanted = _words(text)
    if not wanted:
        raise TaskFailed("text to find is empty")
    boxes = _tesseract("image_to_data", image, lang, as_dict=True)
    words = [
        (
            _words(str(word)),
            int(boxes["left"][i]),
            int(boxes["top"][i]),
            int(boxes["width"][i]),
            int(boxes["height"][i]),
            (boxes["block_num"][i], boxes["par_num"][i], boxes["line_num"][i]),
        )
        for i, word in enumerate(boxes["text"])
        if _words(str(word))
    ]
    for start in range(len(words)):
        run = words[start : start + len(wanted)]
        if (
            len(run) == len(wanted)
            and all(w[0] == [t] for w, t in zip(run, wanted, strict=True))
            and len({w[5] for w in run}) == 1
        ):
            left, top = min(w[1] for w in run), min(w[2] for w in run)
            right, bottom = max(w[1] + w[3] for w in run), max(w[2] + w[4] for w in run)
            return Match((left + right) // 2, (top + bottom) // 2, 1.0)
    return None


def find_template(image: Image, template: Image, threshold: float = 0.8) -> Match | None:
    """The centre of the best match of `template` in `image`, if its score reaches `threshold`."""
    try:
        import numpy as np
    except ImportError:
        raise TaskFailed(f"template matching needs numpy: {EXTRA_HINT}") from None
    screen = np.asarray(image.convert("L"), dtype=np.float64)
    patch = np.asarray(template.convert("L"), dtype=np.float64)
    h, w = patch.shape
    if h > screen.shape[0] or w > screen.shape[1]:
        raise TaskFailed("template is larger than the screen image")
    scores = _ncc(np, screen, patch)
    best = int(np.argmax(scores))
    row, col = divmod(best, scores.shape[1])
    score = float(scores[row, col])
    if score < threshold:
        return None
    return Match(col + w // 2, row + h // 2, round(score, 4))


def _ncc(np: Any, screen: Any, patch: Any) -> Any:
    h, w = patch.shape
    zero_mean = patch - patch.mean()
    patch_norm = float(np.sqrt((zero_mean**2).sum()))
    if patch_norm == 0:
        raise TaskFailed("template is a single flat colour: it would match anywhere")
    shape = (screen.shape[0] + h - 1, screen.shape[1] + w - 1)
    spectrum = np.fft.rfft2(screen, shape) * np.fft.rfft2(zero_mean[::-1, ::-1], shape)
    correlation = np.fft.irfft2(spectrum, shape)[h - 1 : screen.shape[0], w - 1 : screen.shape[1]]
    sums, squares = _window_sums(np, screen, h, w), _window_sums(np, screen**2, h, w)
    variance = np.maximum(squares - sums**2 / (h * w), 0.0)
    denominator = np.sqrt(variance) * patch_norm
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(denominator > 1e-6 * patch_norm, correlation / denominator, 0.0)
    return np.clip(scores, -1.0, 1.0)


def _window_sums(np: Any, values: Any, h: int, w: int) -> Any:
    integral = np.pad(values.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    return integral[h:, w:] - integral[:-h, w:] - integral[h:, :-w] + integral[:-h, :-w]


def _words(text: str) -> list[str]:
    return [w for w in (re.sub(r"[^\w]", "", part).lower() for part in text.split()) if w]


def _tesseract(function: str, image: Image, lang: str, as_dict: bool = False) -> Any:
    try:
        import pytesseract
    except ImportError:
        raise TaskFailed(f"OCR needs the desktop extra (pytesseract): {EXTRA_HINT}") from None
    if not re.fullmatch(r"[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*", lang):
        raise TaskFailed(f"lang {lang!r} is not a Tesseract language list like 'eng' or 'eng+kor'")
    options: dict[str, Any] = {"lang": lang}
    if as_dict:
        options["output_type"] = pytesseract.Output.DICT
    try:
        return getattr(pytesseract, function)(image, **options)
    except pytesseract.TesseractNotFoundError:
        raise TaskFailed("OCR needs Tesseract: install it (Debian: apt-get install tesseract-ocr)") from None
    except pytesseract.TesseractError as exc:
        raise TaskFailed(f"tesseract failed ({lang}): {str(exc.message).strip()[:300]}") from None
