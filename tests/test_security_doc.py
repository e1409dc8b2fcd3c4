"""docs/security.md names, for every threat, a test that exists: the table cannot drift from the suite."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_test_named_in_the_security_doc_exists():
    text = (ROOT / "docs" / "security.md").read_text()
    named, current = [], None
    for match in re.finditer(r"`(tests/[\w/]+\.py)(?:::(\w+))?`|`::(\w+)`", text):
        path, name, continued = match.groups()
        if path:
            current = path
        test = name or continued
        if test:
            named.append((current, test))
    assert len(named) > 30
    missing = [f"{path}::{test}" for path, test in named
               if not re.search(rf"def {test}\b", (ROOT / path).read_text())]
    assert not missing, missing
