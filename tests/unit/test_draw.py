import pytest

from frolic.pacing.draw import KeyedDraw

KEY = b"k" * 32


def test_a_replayed_play_draws_the_same_number() -> None:
    assert KeyedDraw(KEY)("play-1", "brand-a") == KeyedDraw(KEY)("play-1", "brand-a")


def test_the_draw_depends_on_key_play_and_brand() -> None:
    draw = KeyedDraw(KEY)
    base = draw("play-1", "brand-a")
    assert KeyedDraw(b"j" * 32)("play-1", "brand-a") != base
    assert draw("play-2", "brand-a") != base
    assert draw("play-1", "brand-b") != base
    # The separator keeps ("ab", "c") and ("a", "bc") apart
    assert draw("ab", "c") != draw("a", "bc")


def test_draws_are_uniform_over_tenths() -> None:
    draw = KeyedDraw(KEY)
    values = [draw(f"p{i}", "brand") for i in range(20_000)]
    assert all(0.0 <= v < 1.0 for v in values)
    tenths = [0] * 10
    for value in values:
        tenths[int(value * 10)] += 1
    # 2,000 expected per tenth; 5 standard deviations is ±212
    assert all(abs(count - 2000) < 212 for count in tenths)


@pytest.mark.parametrize("key", [b"", b"short", b"x" * 65])
def test_weak_or_oversized_keys_are_refused(key: bytes) -> None:
    with pytest.raises(ValueError, match="16 to 64"):
        KeyedDraw(key)
