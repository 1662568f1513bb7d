"""The sandbox's numeric limits, in one place (the guards, the worker and the docs refer to them)."""
from __future__ import annotations

#: Most items a ``range()``, a ``seq * n`` repetition, a padding or a joined/replaced string may produce.
MAX_SEQUENCE_LENGTH = 10**6
#: Largest integer (in bits) ``*``, ``**``, ``<<`` and math.factorial & co. may produce. Division of two
#: such numbers is quadratic in C (~10 ms at this size; ~1 s at 10**6 bits).
MAX_INT_BITS = 100_000
#: ``pow(base, exp, mod)`` costs ~bits(exp) * bits(mod)**2: at most that of a 2048-bit RSA operation.
MAX_MODPOW_COST = 2048**3
#: Largest width or precision in a format spec (f-string ``{x:>N}``, ``'%Nd' % x``).
MAX_FORMAT_WIDTH = 10_000
