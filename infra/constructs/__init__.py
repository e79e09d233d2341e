"""One construct per concern; the stack composes them and does the grants."""
