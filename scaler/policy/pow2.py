"""pow2ceil on float64 arrays by IEEE-754 bit arithmetic (the kernel's step 2); pure."""

from __future__ import annotations

import numpy as np

POW2_CAP = float(2**62)
"""pow2ceil saturates at 2**62 so that recommendations fit int64."""

_MANTISSA = np.int64((1 << 52) - 1)
_EXPONENT = np.int64(0x7FF << 52)


def pow2ceil(x: np.ndarray, out: np.ndarray, *, keep_nan: bool = True) -> np.ndarray:
    """out = pow2ceil(x): the smallest power of two ≥ x, clipped to [1, 2**62].

    Adding 2^52 − 1 to the IEEE-754 bits carries into the exponent unless the mantissa is
    zero; masking the mantissa off then leaves a power of two: 3.75 = 1.875·2^1 → 4,
    4.0 → 4, 0.3 → 0.25 → (clip) 1, inf → 2**62. NaN gives NaN if `keep_nan`, else 1.
    x and out: distinct contiguous float64 arrays.
    """
    bits = out.view(np.int64)
    np.add(x.view(np.int64), _MANTISSA, out=bits)
    np.bitwise_and(bits, _EXPONENT, out=bits)
    if keep_nan:
        np.maximum(out, x, out=out)  # the bit trick alone turns NaN into 0
    return np.clip(out, 1.0, POW2_CAP, out=out)
