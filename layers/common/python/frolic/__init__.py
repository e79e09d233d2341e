"""Frolic: paced coupon jackpots for timed marketing games."""
