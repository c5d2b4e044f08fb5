"""List the numbers in an executed notebook's prose that none of its outputs print.

Every number the text states ("D's loss settles near 0.69", "99.3% of the samples") should be
printed by a cell on the same page, so a reader can see where it comes from and a re-run that
changes it is noticed. Run it on *executed* notebooks, with their outputs: ``notebooks/`` holds
none, and the book build keeps its executed copies inside jupyter-cache, so execute copies first::

    jupyter nbconvert --to notebook --execute --output-dir build/executed notebooks/[0-9][0-9]_*.ipynb
    python tools/check_numbers.py build/executed             # a folder: every .ipynb below it
    python tools/check_numbers.py a.ipynb b.ipynb --report-only

For each notebook it prints every unprinted number with its cell index (0-based, as nbformat
counts cells) and the words around it, then ``unprinted numbers: N in M notebooks``. The exit
code is 1 when N > 0 (0 with ``--report-only``), 2 when a path is missing or unreadable.
From Python: ``unprinted_numbers(notebook_dict) -> list[Finding]``.

What counts as a number, in markdown cells and in outputs alike:

- digits with an optional decimal part and exponent: ``12``, ``3.5``, ``.5``, ``2e-4``;
  a leading ``-``, ``−`` (U+2212) or ``+`` is a sign when it does not follow a letter, digit,
  ``.`` or ``)`` (so ``3-5`` is a range of 3 and 5, and ``x-3`` is 3);
- thousands separators are removed: ``1,200``, ``1 200`` (space, no-break, thin or narrow
  no-break space) are 1200. Groups must be exactly three digits. A prose number grouped with a
  plain space also passes if each of its parts passes on its own ("5 100-step runs");
- a suffix ``%`` (also after one space) makes a percent; ``x`` or ``×`` (``4.2x``) is dropped;
  ``k``/``K`` and ``M`` multiply by 1,000 and 1,000,000 (``10k`` is 10,000 at ±500);
  ``28x28`` and ``28×28`` are two numbers;
- vulgar fractions (``½``, ``⅓``, ``1½``) and integer fractions ``a/b`` are their quotient;
- digits glued to letters, ``_`` or to a further ``.digit`` are not numbers: ``2D``, ``3rd``,
  ``G2``, ``conv2d``, ``03_dcgan``, and dotted sequences such as ``2.19.0`` or ``5.1.1``.

In outputs (stream text, and the ``text/plain``, ``text/markdown`` and ``text/html`` of
``execute_result`` and ``display_data``; tags stripped, entities decoded) every reading is
collected: ``1 200`` gives 1200, 1 and 200; ``3/20`` gives 0.15, 3 and 20. Error outputs are
not searched.

When a prose number counts as printed, at the precision the prose gives:

- a number with d decimals (after its exponent is applied: ``2e-4`` has 4, ``6,000`` has 0)
  matches an output number x when |x - value| <= 0.5 * 10**-d, i.e. x rounds to it (either way
  at an exact half). So prose ``0.69`` matches output ``0.6931``, prose ``0.70`` does not, and
  prose ``99%`` matches ``99.3%``. A prose number more precise than the output never matches;
- a percent p also matches an output fraction p/100 at the same precision (prose ``99.3%``
  matches output ``0.993``); a plain prose number v also matches an output percent 100v;
- a fraction (``⅓``, ``3/4``) matches at two significant figures (``0.33``, ``0.333``).

What is ignored (not checked at all):

- fenced code blocks (````` ``` ````` or ``~~~`` fences) and inline code (`` `...` ``);
- LaTeX math: ``$$...$$``, ``\\[...\\]``, ``\\(...\\)`` and ``$...$`` (the paper's constants,
  such as log 4 or 1/2, live there). A ``\\$`` is a literal dollar, not math;
- URLs (``http://``, ``https://``, ``www.``), markdown link and image targets ``](...)``,
  reference definitions ``[x]: url``, HTML tags with their attributes, HTML comments;
- whole heading lines (a line starting with up to three spaces and ``#``): they number sections
  ("## 11. Exercise") and label things ("## Failure 3: ..."), they do not state results;
- enumerators: a number followed by ``.``, ``)`` or ``:`` and a space at the start of a line
  or of a table cell (``1. ``, ``2) ``, ``3: ``, ``| 3. DCGAN``), and ``(3)`` or ``3:``
  opening a sentence ("... shows. (3) A middle-mode-only ...");
- MNIST class names: a single digit after "a"/"an" with nothing numeric after it ("the judge
  calls a 7", "an 8"; "a 5×5 grid" and "a 7-vector" are still numbers), and a quoted digit
  (``"7"``);
- references: figure/fig., section/sec., §, algorithm, notebook, chapter, cell, equation/eq.,
  table, step, part, question, exercise, failure, appendix, page, line, row, column, departure,
  theorem, lemma, proposition, and versions: version, Python, TensorFlow, Keras, NumPy, PyTorch,
  torch, JAX, CUDA (singular or plural, any case)
  followed by a number, a range, or a list ending in and/or/to: "Figure 1", "section 5.1.1",
  "equation (3)", "notebooks 2-5", "questions 1, 2 and 3". So "step 500" is not checked;
- years: a standalone 4-digit integer from 1900 to 2099 (no sign, separator, decimals or
  suffix), and ISO dates ``2026-11-27``;
- the small integers 0, 1 and 2 (also with a sign) when they stand alone: no decimals,
  separator or suffix, and digit fractions of them such as ``1/2``. They are too common to be
  claims ("one of 2 players", "D = 1/2"); ``2x``, ``2.0``, ``2%`` and ``½`` are still checked;
- allowlisted numbers, compared by value (``60000`` allows ``60,000``): ``GLOBAL_ALLOW``
  (MNIST's definitional numbers) and the notebook's ``metadata["number_check"]["allow"]``,
  a list of strings such as ``["28", "784", "50%"]``.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

# MNIST's definitional numbers: the image side and size, the ten digits, the split sizes and
# the largest pixel value. Stated everywhere, printed rarely, and never a result.
GLOBAL_ALLOW = ("28", "784", "10", "60,000", "10,000", "255")

VULGAR = {"½": (1, 2), "⅓": (1, 3), "⅔": (2, 3), "¼": (1, 4), "¾": (3, 4), "⅕": (1, 5),
          "⅖": (2, 5), "⅗": (3, 5), "⅘": (4, 5), "⅙": (1, 6), "⅚": (5, 6), "⅛": (1, 8),
          "⅜": (3, 8), "⅝": (5, 8), "⅞": (7, 8), "⅐": (1, 7), "⅑": (1, 9), "⅒": (1, 10)}
SEPARATORS = " \u00a0\u2009\u202f"
MULTIPLIERS = {"k": 3, "K": 3, "M": 6}

NUMBER_RE = re.compile(
    rf"""
    (?P<sign>(?<![\w.)\u2212+-])[-\u2212+])?
    (?<![\w.])
    (?:
        (?P<vulgar_int>\d+)?(?P<vulgar>[{''.join(VULGAR)}])
      | (?P<num>\d+)/(?P<den>\d+)(?![\w/]|\.\d)
      | (?:
            (?P<int>\d{{1,3}}(?P<sep>[,{SEPARATORS}])\d{{3}}(?!\d)(?:(?P=sep)\d{{3}}(?!\d))*|\d+)
            (?:\.(?P<frac>\d+))?
          | \.(?P<frac_only>\d+)
        )
        (?:[eE](?P<exp>[-\u2212+]?\d+))?
        (?P<suffix>\ ?%|[x×](?![A-Za-z])|[kKM](?!\w))?
        (?!\w|\.\d)
    )
    """,
    re.VERBOSE,
)
REF_WORDS = (r"figures?|figs?\.?|sections?|secs?\.?|algorithms?|notebooks?|chapters?|cells?|"
             r"equations?|eqs?\.?|eqns?\.?|tables?|steps?|parts?|questions?|exercises?|"
             r"failures?|appendix|appendices|pages?|lines?|rows?|columns?|departures?|theorems?|"
             r"lemmas?|propositions?|versions?|python|tensorflow|keras|numpy|pytorch|torch|jax|cuda")
REF_NUMBER = r"\(?\d+(?:\.\d+)*[a-z]?\)?(?![\d,.]\d)"
REF_SPAN = rf"{REF_NUMBER}(?:\s*[-–—]\s*{REF_NUMBER})?"  # "2" or "2-5"
REFERENCE_RE = re.compile(  # "Figure 1", "notebooks 2-5", "questions 1, 2 and 3", "equation (3)"
    rf"(?:\b(?:{REF_WORDS})|§)\s*{REF_SPAN}(?:(?:\s*,\s*{REF_SPAN})*\s*,?\s+(?:and|or|to|&)\s+{REF_SPAN})?",
    re.IGNORECASE,
)
MASKS = [  # (pattern, flags); applied in this order, each replacing its match with spaces
    (r"^ {0,3}(```|~~~)[^\n]*\n.*?(?:^ {0,3}\1[^\n]*$|\Z)", re.M | re.S),  # fenced code
    (r"(`+)(?:(?!\1).)+?\1", re.S),  # inline code
    (r"<!--.*?-->", re.S),
    (r"(?<!\\)\$\$.+?(?<!\\)\$\$", re.S),  # display math
    (r"\\\[.+?\\\]", re.S),
    (r"\\\(.+?\\\)", re.S),
    (r"(?<!\\)\$(?:\\.|[^$\\\n]|\n(?!\s*\n))+?(?<!\\)\$", 0),  # inline math, within a paragraph
    (r"\]\([^)]*\)", 0),  # link and image targets
    (r"^ {0,3}\[[^\]]+\]:[^\n]*", re.M),  # reference definitions
    (r"(?:https?://|www\.)[^\s)>\]]+", 0),
    (r"</?[A-Za-z][^>]*>", 0),  # HTML tags and their attributes
    (r"^ {0,3}#[^\n]*", re.M),  # heading lines
    (r"(?:^|\|)\s*\d+[.):](?=\s)", re.M),  # numbered-list markers, also opening a table cell
    (r"(?:^|(?<=[.:;!?)]\s))\s*(?:\(\d{1,2}\)|\d{1,2}:)(?=\s)", re.M),  # "(3) ", "3: " opening a sentence
    (r"\ban?\s+\d(?!\d|[.,]\d|\s*[%×x]|[-−/])", re.I),  # "a 7", "an 8": a digit's class
    (r"([\"'“‘])\d\1|“\d”|‘\d’", 0),  # a quoted digit: a label, "7"
    (r"\b\d{4}-\d{2}-\d{2}\b", 0),  # ISO dates
    (REFERENCE_RE.pattern, re.IGNORECASE),
]
MASKS = [re.compile(pattern, flags) for pattern, flags in MASKS]


@dataclass(frozen=True)
class Finding:
    """A number in a markdown cell that no output prints."""

    cell: int  # index in the notebook's cells, from 0
    number: str  # as the prose writes it
    snippet: str  # the words around it


@dataclass(frozen=True)
class Number:
    """One reading of a number: its value, how far a match may be from it, and whether it is a %."""

    text: str
    start: int
    value: Decimal
    tolerance: Decimal
    percent: bool
    plain_int: bool  # an integer (or digit fraction) without decimals, exponent, separator or suffix
    parts: tuple = ()  # for a number grouped with plain spaces: the groups read on their own


def _text(source) -> str:
    """A cell's source or an output's text, given as a string or a list of lines."""
    return "".join(source) if isinstance(source, list) else (source or "")


def _mask(text: str) -> str:
    """``text`` with code, math, URLs, headings, list markers, dates and references blanked."""
    for pattern in MASKS:
        text = pattern.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    # "28x28" is two numbers: put a non-separator between them, so they cannot merge into 2828.
    return re.sub(r"(?<=\d)[x×](?=\d)", ";", text)


def _fraction(num: int, den: int, text: str, start: int) -> Number | None:
    """``num/den`` compared at two significant figures, or None for a zero numerator or denominator.

    ``1/2`` written with digits counts as a small integer (ignored); ``½`` does not.
    """
    if num == 0 or den == 0:
        return None
    value = Decimal(num) / Decimal(den)
    tolerance = Decimal(5).scaleb(value.adjusted() - 2)
    return Number(text, start, value, tolerance, False, "/" in text and num <= 2 and den <= 2)


def _parse(match: re.Match) -> Number | None:
    """The Number a NUMBER_RE match reads (None for a fraction with a zero in it)."""
    g = match.groupdict()
    text, start = match.group(0), match.start()
    if g["vulgar"]:
        num, den = VULGAR[g["vulgar"]]
        number = _fraction(int(g["vulgar_int"] or 0) * den + num, den, text, start)
    elif g["num"]:
        number = _fraction(int(g["num"]), int(g["den"]), text, start)
    else:
        digits = re.sub(rf"[,{SEPARATORS}]", "", g["int"] or "0")
        frac = g["frac"] or g["frac_only"] or ""
        suffix = (g["suffix"] or "").strip()
        exp = int((g["exp"] or "0").replace("\u2212", "-")) + MULTIPLIERS.get(suffix, 0)
        value = Decimal(f"{digits}.{frac or '0'}").scaleb(exp)
        tolerance = Decimal(5).scaleb(exp - len(frac) - 1)
        parts = ()
        if g["sep"] == " " and not (frac or g["exp"] or suffix):  # "5 100" may be 5 and 100
            parts = tuple(Number(m.group(0), match.start("int") + m.start(), Decimal(m.group(0)),
                                 Decimal("0.5"), False, True) for m in re.finditer(r"\d+", g["int"]))
        plain = not (frac or g["exp"] or g["sep"] or suffix)
        number = Number(text, start, value, tolerance, suffix == "%", plain, parts)
    if number is not None and g["sign"] in ("-", "\u2212"):
        number = replace(number, value=-number.value)
    return number


def prose_numbers(markdown: str) -> list[Number]:
    """The numbers a markdown cell states, after the ignore rules (allowlists excepted)."""
    found = []
    for match in NUMBER_RE.finditer(_mask(markdown)):
        number = _parse(match)
        if number is None:
            continue
        if number.plain_int and abs(number.value) <= 2:
            continue  # 0, 1, 2 and their fractions standing alone
        if (number.plain_int and not match.group("sign") and 1900 <= number.value <= 2099
                and re.fullmatch(r"\d{4}", number.text)):
            continue  # a year
        found.append(number)
    return found


def output_numbers(text: str) -> list[Number]:
    """Every reading of every number in an output's text (merged and split groups, a/b and a, b)."""
    found = []
    for candidate in (text, re.sub(rf"(?<=\d)[,{SEPARATORS}](?=\d)", "  ", text), text.replace("/", " ")):
        for match in NUMBER_RE.finditer(re.sub(r"(?<=\d)[x×](?=\d)", ";", candidate)):
            number = _parse(match)
            if number is not None:
                found.append(number)
    return found


def output_text(notebook: dict) -> str:
    """All the text the notebook's code cells print, one output after another."""
    chunks = []
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                chunks.append(_text(output.get("text")))
            elif output.get("output_type") in ("execute_result", "display_data"):
                data = output.get("data", {})
                chunks.append(_text(data.get("text/plain")))
                chunks.append(_text(data.get("text/markdown")))
                page = re.sub(r"<[^>]*>", " ", _text(data.get("text/html")))
                chunks.append(html.unescape(page))
    return "\n".join(chunks)


class _Printed:
    """The output numbers, sorted by value for range look-ups."""

    def __init__(self, numbers: list[Number]):
        self.all = sorted(n.value for n in numbers)
        self.percents = sorted(n.value for n in numbers if n.percent)

    @staticmethod
    def _any(values: list[Decimal], low: Decimal, high: Decimal) -> bool:
        return bisect_right(values, high) > bisect_left(values, low)

    def contains(self, number: Number) -> bool:
        """Whether some output number rounds to ``number`` at its precision."""
        low, high = number.value - number.tolerance, number.value + number.tolerance
        if self._any(self.all, low, high):
            return True
        if number.percent:
            return self._any(self.all, low / 100, high / 100)
        return self._any(self.percents, low * 100, high * 100)


def _allowed(notebook: dict) -> set[tuple[Decimal, bool]]:
    """The allowlisted (value, percent) pairs: GLOBAL_ALLOW and the notebook's metadata."""
    extra = notebook.get("metadata", {}).get("number_check", {}).get("allow", [])
    if isinstance(extra, (str, int, float)):
        extra = [extra]
    allowed = set()
    for entry in (*GLOBAL_ALLOW, *map(str, extra)):
        for number in output_numbers(entry)[:1]:
            allowed.add((number.value, number.percent))
    return allowed


def _snippet(source: str, start: int, end: int, width: int = 40) -> str:
    """The words around source[start:end], cut at sentence ends, on one line."""
    left = source[max(0, start - width):start]
    right = source[end:end + width]
    cut = list(re.finditer(r"[.!?:;]\s|\n\s*\n", left))
    if cut:
        left = left[cut[-1].end():]
    elif start > width:
        left = "…" + left.split(" ", 1)[-1]
    cut = re.search(r"[.!?;](?=\s|$)|\n\s*\n", right)
    if cut:
        right = right[:cut.end()]
    elif end + width < len(source):
        right = right.rsplit(" ", 1)[0] + "…"
    return " ".join((left + source[start:end] + right).split())


def unprinted_numbers(notebook: dict) -> list[Finding]:
    """The numbers in ``notebook``'s markdown cells that none of its outputs print.

    ``notebook`` is the notebook's JSON as a dict (or an nbformat NotebookNode). The rules are in
    this module's docstring.
    """
    printed = _Printed(output_numbers(output_text(notebook)))
    allowed = _allowed(notebook)
    findings = []
    for index, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "markdown":
            continue
        source = _text(cell.get("source"))
        for number in prose_numbers(source):
            if (number.value, number.percent) in allowed or printed.contains(number):
                continue
            parts = [p for p in number.parts if not (p.plain_int and abs(p.value) <= 2)]
            if number.parts and all((p.value, p.percent) in allowed or printed.contains(p) for p in parts):
                continue
            end = number.start + len(number.text)
            findings.append(Finding(index, number.text.strip(), _snippet(source, number.start, end)))
    return findings


def notebook_paths(paths: list[str]) -> list[Path]:
    """The .ipynb files named by ``paths``, folders searched recursively, checkpoints skipped."""
    found = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"error: {name} does not exist. Give an executed .ipynb or a folder of them.")
    return found


def main(argv: list[str] | None = None) -> int:
    """Check the notebooks named on the command line; the exit code says whether all passed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", metavar="PATH", help="an executed .ipynb, or a folder searched for them")
    parser.add_argument("--report-only", action="store_true", help="exit 0 even when numbers are unprinted")
    args = parser.parse_args(argv)
    try:
        paths = notebook_paths(args.paths)
    except FileNotFoundError as error:
        print(error, file=sys.stderr)
        return 2
    if not paths:
        print(f"error: no .ipynb found in {', '.join(args.paths)}.", file=sys.stderr)
        return 2
    total = 0
    for path in paths:
        try:
            notebook = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            print(f"error: cannot read {path} as a notebook ({error}).", file=sys.stderr)
            return 2
        findings = unprinted_numbers(notebook)
        total += len(findings)
        if not output_text(notebook).strip():
            print(f"{path}: warning: no outputs at all; check the executed copy, not the source.")
        if findings:
            print(f"{path}: {len(findings)} unprinted")
            for finding in findings:
                print(f"  cell {finding.cell}: {finding.number}  | {finding.snippet}")
    print(f"unprinted numbers: {total} in {len(paths)} notebooks")
    return 1 if total and not args.report_only else 0


if __name__ == "__main__":
    sys.exit(main())
