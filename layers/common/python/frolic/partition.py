"""How plays are spread over the stream's shards.

The partition key is the playId itself. Kinesis hashes the key with MD5 onto the
shards' hash-key ranges, so one hot game's plays spread evenly over every shard (a
`gameId` key would pin a whole game to one shard: 1,000 plays/s at most), while every
copy of one play (client resend, producer retry) lands on the same shard, in order,
behind its first copy.
"""

from __future__ import annotations

import hashlib

_HASH_SPACE_BITS = 128


def partition_key(play_id: str) -> str:
    return play_id


def shard_index(key: str, shard_count: int) -> int:
    """Which of `shard_count` evenly split shards Kinesis puts `key` on."""
    digest = hashlib.md5(key.encode(), usedforsecurity=False).digest()
    return (int.from_bytes(digest, "big") * shard_count) >> _HASH_SPACE_BITS
