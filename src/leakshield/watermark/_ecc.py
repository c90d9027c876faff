"""The payload's error correction: a keyed check, then a convolutional code read by Viterbi.

The 64 payload bits are followed by a 24-bit check, a MAC of the payload under the key, and
eight zero tail bits; a rate-1/4, constraint-length-9 convolutional code (generators 463,
535, 733, 745 octal) turns these 96 bits into 384 coded bits. Detection decodes the soft
bit values with the Viterbi algorithm and accepts the payload only if its check matches: an
unmarked image passes that check with probability 2**-24 per attempt (docs/watermark.md).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from leakshield.watermark._key import WatermarkKey
from leakshield.watermark._model import PAYLOAD_BITS, PAYLOAD_BYTES

__all__ = ["CHECK_BITS", "CODED_BITS", "decode_payload", "encode_payload"]

CHECK_BITS = 24
_CONSTRAINT = 9
_GENERATORS = (0o463, 0o535, 0o733, 0o745)
_MEMORY = _CONSTRAINT - 1
_STATES = 1 << _MEMORY
INFO_BITS = PAYLOAD_BITS + CHECK_BITS
CODED_BITS = (INFO_BITS + _MEMORY) * len(_GENERATORS)


def _parity(value: int) -> int:
    return bin(value).count("1") & 1


def _trellis() -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """For each state and input bit: the next state, and the coded output as +-1 values."""
    next_state = np.zeros((_STATES, 2), dtype=np.int64)
    outputs = np.zeros((_STATES, 2, len(_GENERATORS)), dtype=np.float32)
    for state in range(_STATES):
        for bit in (0, 1):
            register = (bit << _MEMORY) | state  # newest bit highest
            next_state[state, bit] = register >> 1
            for g, generator in enumerate(_GENERATORS):
                outputs[state, bit, g] = 1.0 if _parity(register & generator) else -1.0
    return next_state, outputs


_NEXT, _OUT = _trellis()
# For the Viterbi step: each next state has two predecessors (state, bit).
_PRED_STATE = np.zeros((_STATES, 2), dtype=np.int64)
_PRED_BIT = np.zeros((_STATES, 2), dtype=np.int64)
_fill = np.zeros(_STATES, dtype=np.int64)
for _s in range(_STATES):
    for _b in (0, 1):
        _n = int(_NEXT[_s, _b])
        _PRED_STATE[_n, _fill[_n]] = _s
        _PRED_BIT[_n, _fill[_n]] = _b
        _fill[_n] += 1
del _fill, _s, _b, _n


def _check(key: WatermarkKey, payload: bytes) -> bytes:
    return key.derive("payload-check:" + payload.hex(), CHECK_BITS // 8)


def encode_payload(key: WatermarkKey, payload: bytes) -> NDArray[np.float32]:
    """The 384 coded bits of ``payload`` as +-1 values."""
    if len(payload) != PAYLOAD_BYTES:
        raise ValueError(f"a payload is {PAYLOAD_BYTES} bytes")
    message = payload + _check(key, payload)
    bits = np.unpackbits(np.frombuffer(message, dtype=np.uint8)).astype(np.int64)
    bits = np.concatenate([bits, np.zeros(_MEMORY, dtype=np.int64)])
    coded = np.empty((len(bits), len(_GENERATORS)), dtype=np.float32)
    state = 0
    for i, bit in enumerate(bits):
        coded[i] = _OUT[state, bit]
        state = int(_NEXT[state, bit])
    return coded.reshape(-1)


def decode_payload(
    key: WatermarkKey, soft: NDArray[np.float32]
) -> tuple[bytes | None, NDArray[np.float32]]:
    """Viterbi-decodes soft coded bits (positive means +1); returns the payload if its check
    matches, else None, and the re-encoded codeword of the best path."""
    steps = soft.reshape(-1, len(_GENERATORS)).astype(np.float32)
    metric = np.full(_STATES, -np.inf, dtype=np.float32)
    metric[0] = 0.0
    choices = np.zeros((len(steps), _STATES), dtype=np.int8)
    # Branch metric of (state, bit): correlation of its outputs with the received values.
    for i, received in enumerate(steps):
        branch = _OUT @ received  # (states, 2)
        candidates = metric[_PRED_STATE] + branch[_PRED_STATE, _PRED_BIT]  # (states, 2)
        pick = np.argmax(candidates, axis=1)
        choices[i] = pick
        metric = candidates[np.arange(_STATES), pick]
    # Zero-terminated: the path ends in state 0; trace back.
    state = 0
    bits = np.zeros(len(steps), dtype=np.uint8)
    for i in range(len(steps) - 1, -1, -1):
        pick = choices[i, state]
        bits[i] = _PRED_BIT[state, pick]
        state = int(_PRED_STATE[state, pick])
    message = np.packbits(bits[:INFO_BITS]).tobytes()
    payload, check = message[:PAYLOAD_BYTES], message[PAYLOAD_BYTES:]
    codeword = encode_payload(key, payload)
    if check != _check(key, payload):
        return None, codeword
    return payload, codeword
