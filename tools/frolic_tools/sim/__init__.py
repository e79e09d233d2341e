"""`frolic simulate`: the allocator on recorded traffic, in virtual time."""
