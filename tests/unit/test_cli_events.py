"""`frolic local --events-to`: refused at once, in one line, without a usable target."""

from __future__ import annotations

import pytest

from frolic_tools.cli import EVENTS_SECRET_VARIABLE, main


@pytest.mark.parametrize(
    ("target", "secret", "words"),
    [
        ("ftp://crm.example/in", "s3cret", "http:// or https://"),
        ("crm.example/in", "s3cret", "http:// or https://"),
        ("https://crm.example/in", "", EVENTS_SECRET_VARIABLE),
    ],
)
def test_an_events_target_without_a_url_or_a_secret_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    target: str,
    secret: str,
    words: str,
) -> None:
    monkeypatch.setenv(EVENTS_SECRET_VARIABLE, secret)
    code = main(["local", "--port", "0", "--events-to", target])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1
    assert words in captured.err
