"""Every setting is documented in the README table and the local settings sample."""

from __future__ import annotations

import json

from scripts import settings_docs
from shared.config import setting_names


def test_readme_and_sample_are_current() -> None:
    assert settings_docs.main(["--check"]) == 0, "run: python -m scripts.settings_docs"


def test_every_setting_is_in_the_sample_and_readme() -> None:
    values = json.loads(settings_docs.SAMPLE.read_text())["Values"]
    readme = settings_docs.README.read_text()
    for env in setting_names().values():
        assert env in values
        assert f"`{env}`" in readme
