"""The payload code: corrects errors, and its keyed check refuses what was not encoded."""

from __future__ import annotations

import numpy as np

from leakshield.watermark import WatermarkKey
from leakshield.watermark._ecc import CODED_BITS, decode_payload, encode_payload

KEY = WatermarkKey(bytes(range(32)))
PAYLOAD = bytes.fromhex("fedcba9876543210")


def test_a_clean_codeword_decodes() -> None:
    coded = encode_payload(KEY, PAYLOAD)
    assert coded.shape == (CODED_BITS,) and set(np.unique(coded)) == {-1.0, 1.0}
    payload, codeword = decode_payload(KEY, coded)
    assert payload == PAYLOAD and (codeword == coded).all()


def test_noise_that_flips_a_sixth_of_the_bits_is_corrected() -> None:
    rng = np.random.default_rng(5)
    coded = encode_payload(KEY, PAYLOAD)
    decoded, flipped = 0, []
    for _ in range(50):
        soft = coded + rng.normal(0, 1.0, CODED_BITS).astype(np.float32)  # 16% flip
        flipped.append(np.mean(np.sign(soft) != coded))
        decoded += decode_payload(KEY, soft)[0] == PAYLOAD
    assert 0.13 < np.mean(flipped) < 0.19
    assert decoded >= 45


def test_another_key_or_noise_does_not_pass_the_check() -> None:
    coded = encode_payload(KEY, PAYLOAD)
    assert decode_payload(WatermarkKey(bytes(32)), coded)[0] is None
    rng = np.random.default_rng(9)
    passed = sum(
        decode_payload(KEY, rng.standard_normal(CODED_BITS).astype(np.float32))[0] is not None
        for _ in range(2000)
    )
    assert passed == 0  # expected 2000 * 2**-24, about 1e-4
