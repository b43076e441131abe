"""File names made from user data (object, action and take names)."""

from __future__ import annotations


def safe_filename(name: str) -> str:
    """``name`` with every character but letters, digits, ``-``, ``_`` and ``.`` replaced by ``_``
    (``"Face take 1/2"`` -> ``"Face_take_1_2"``), so it is one file name on every system."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
