"""New connections through a kube-proxy chain with numpy: 10 million through 3 rules.

Each rule draws a 31-bit number per connection still unmatched (as xt_statistic does),
so 10 million connections through kube-proxy's 3-endpoint chain draw about 20 million
numbers. Median of 3 runs.
"""

from __future__ import annotations

import statistics
import time

CONNECTIONS = 10_000_000
REPEATS = 3


def run() -> list[tuple[str, float, str, str]]:
    from k8snet_lesson.simulate import kube_proxy_probabilities, simulate

    probabilities = kube_proxy_probabilities(3)
    simulate(probabilities, 1000, seed=0)  # warm up
    times = []
    for k in range(REPEATS):
        start = time.perf_counter()
        counts = simulate(probabilities, CONNECTIONS, seed=k)
        times.append(time.perf_counter() - start)
        assert int(counts.sum()) == CONNECTIONS
    rate = CONNECTIONS / statistics.median(times) / 1e6
    return [("simulate 10M connections through 3 rules", rate, "M conn/s", ">= 50 M conn/s")]


if __name__ == "__main__":
    for row in run():
        print(row)
