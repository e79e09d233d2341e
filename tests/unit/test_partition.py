from collections import Counter

from frolic.partition import partition_key, shard_index


def test_every_copy_of_a_play_goes_to_the_same_shard() -> None:
    key = partition_key("play-42")
    assert len({shard_index(key, 16) for _ in range(5)}) == 1


def test_one_hot_game_spreads_evenly_over_every_shard() -> None:
    # Given 16,000 plays of the same game
    shards = Counter(shard_index(partition_key(f"game-1-play-{i}"), 16) for i in range(16_000))
    # Then every shard gets its share (1,000 each, ± 5 standard deviations)
    assert sorted(shards) == list(range(16))
    assert all(abs(count - 1000) < 160 for count in shards.values())


def test_one_shard_takes_everything() -> None:
    assert {shard_index(partition_key(f"p{i}"), 1) for i in range(100)} == {0}
