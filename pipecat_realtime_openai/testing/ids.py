"""Identifiers shaped like the real server's (`item_...`, `resp_...`, `event_...`)."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits

# Real ids carry 21 random characters after the prefix; clients sometimes size
# buffers or regexes after them, so the simulator keeps the same shape.
_ID_LENGTH = 21


def new_id(prefix: str) -> str:
    """Return a fresh identifier such as ``item_E6U0u6ZFxXUxYesuS1vaT``.

    Args:
        prefix: The id family without the underscore (``item``, ``resp``, ``event``...).

    Returns:
        The prefix, an underscore and 21 random alphanumeric characters.
    """
    return prefix + "_" + "".join(secrets.choice(_ALPHABET) for _ in range(_ID_LENGTH))
