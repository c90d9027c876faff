"""The peer for bench/service_bench.py: HMA 2.0's matching path, as HMA runs it.

A Flask app serving ``/m/raw_lookup`` from the index HMA's matchers load for PDQ
(python-threatexchange's ``PdqSignal.get_index_cls()``: ``PDQIndex``, faiss
IndexBinaryMultiHash underneath), run by gunicorn with one sync worker as HMA's
Dockerfile does. It leaves out HMA's per-lookup database queries, so it flatters the
peer.

Run: gunicorn -w 1 'bench.peers.hma_matcher:create_app("hashes.npy")'
"""

from __future__ import annotations

import numpy as np
from flask import Flask, jsonify, request
from threatexchange.signal_type.pdq.signal import PdqSignal


def create_app(hashes_path: str) -> Flask:
    """The peer app over the PDQ hashes (uint8 rows of 32) saved at ``hashes_path``."""
    hashes = np.load(hashes_path)
    entries = ((row.tobytes().hex(), i) for i, row in enumerate(hashes))
    index = PdqSignal.get_index_cls().build(entries)
    app = Flask("hma-matcher-peer")

    @app.get("/m/raw_lookup")
    def raw_lookup():  # type: ignore[no-untyped-def]
        signal = request.args.get("signal", "")
        matches = index.query(signal)
        return jsonify(
            {
                "matches": [
                    {"bank_content_id": m.metadata, "distance": m.similarity_info.distance}
                    for m in matches
                ]
            }
        )

    @app.get("/status")
    def status():  # type: ignore[no-untyped-def]
        return "I-AM-ALIVE"

    return app
