"""The pacing rule: release schedule, arrival rate, quiet spells, per-play odds. Pure."""
