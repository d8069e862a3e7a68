"""Module boundaries: no module uses another module's private names (STYLE.md habit 16), and the runtime does
not load the training-data generator."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("consult", "workers", "demo")


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_uses(source: str, filename: str = "<string>") -> list[str]:
    """``from x import _y`` and ``x._y`` (or ``x.sub._y``) where ``x`` is a name bound by an import: the
    private names of other modules that ``source`` uses, as ``"line: what"``."""
    tree = ast.parse(source, filename)
    imported: set[str] = set()
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                imported.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            for alias in node.names:
                if _private(alias.name):
                    found.append(f"{node.lineno}: from {module} import {alias.name}")
                imported.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not _private(node.attr):
            continue
        base = node.value
        path = [node.attr]
        while isinstance(base, ast.Attribute):
            path.append(base.attr)
            base = base.value
        if isinstance(base, ast.Name) and base.id in imported:
            found.append(f"{node.lineno}: {base.id}.{'.'.join(reversed(path))}")
    return sorted(found)


def test_the_checker_sees_private_imports_and_attributes():
    source = (
        "import consult.extract.lexicon as lex\n"
        "from consult.extract import extractor\n"
        "from consult.extract.extractor import _Field, RuleBasedExtractor\n"
        "from . import _helpers\n"
        "x = lex._load_packaged()\n"
        "y = extractor._word_spans\n"
        "z = RuleBasedExtractor._line\n"
        "class A:\n"
        "    def f(self):\n"
        "        return self._own, A.__name__, lex.__file__\n"
    )
    assert private_uses(source) == [
        "3: from consult.extract.extractor import _Field",
        "4: from . import _helpers",
        "5: lex._load_packaged",
        "6: extractor._word_spans",
        "7: RuleBasedExtractor._line",
    ]


def test_no_module_uses_another_modules_private_names():
    offences = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT)
            offences += [f"{rel}:{use}" for use in private_uses(path.read_text(encoding="utf-8"), str(rel))]
    assert offences == [], "give these a public home (consult.extract.core, consult.resources...):\n" + "\n".join(
        offences
    )


def test_tagger_runtime_does_not_import_the_training_generator():
    code = (
        "import sys\n"
        "import consult.backends.tagger as t\n"
        "assert 'consult.extract.synth' not in sys.modules, 'import'\n"
        "from consult.extract.textinput import parse_text_transcript\n"
        "segs, roles = parse_text_transcript('Doctor: take paracetamol 1 g three times a day.')\n"
        "lines = t.TaggerExtractor().extract(segs, roles=roles, language='en')\n"
        "assert lines, 'no line'\n"
        "assert 'consult.extract.synth' not in sys.modules, 'extract'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
