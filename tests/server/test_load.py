"""A bounded load test: 2,000 requests from 32 concurrent clients, no errors, flat memory."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import pytest

CLIENTS, REQUESTS = 32, 2000
MODEL = "distilbert/distilbert-base-uncased-finetuned-sst-2-english"


def hammer(url: str, count: int) -> list[int]:
    """``count`` requests spread over CLIENTS clients, each with its own connection; their statuses."""

    def one_client(n: int) -> list[int]:
        with httpx.Client(base_url=url, timeout=120) as http:
            return [http.post(f"/models/{MODEL}", json={"inputs": f"review number {i}: fine"}).status_code
                    for i in range(n)]

    share = [count // CLIENTS + (1 if i < count % CLIENTS else 0) for i in range(CLIENTS)]
    with ThreadPoolExecutor(CLIENTS) as pool:
        return [s for statuses in pool.map(one_client, share) for s in statuses]


@pytest.mark.slow
def test_many_clients_no_errors_flat_memory(server):
    process = psutil.Process(server.pid)
    assert set(hammer(server.url, 320)) == {200}  # warm-up: model loaded, buffers grown
    warm = process.memory_info().rss
    statuses = hammer(server.url, REQUESTS)
    after = process.memory_info().rss
    assert statuses.count(200) == REQUESTS, {s: statuses.count(s) for s in set(statuses)}
    assert after <= warm * 1.10, f"RSS grew from {warm / 2**20:.0f} MB to {after / 2**20:.0f} MB"
    metrics = httpx.get(f"{server.url}/metrics").text
    sizes = [line for line in metrics.splitlines() if line.startswith("modeldeck_batches_total")
             and "text-classification" in line and 'size="1"' not in line]
    assert sizes, "concurrent requests to one model should share forward passes"
