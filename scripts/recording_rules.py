"""Write the Prometheus recording rules of the metric catalogue (both naming dialects).

Usage::

    uv run python scripts/recording_rules.py [--cluster-label cluster | --no-cluster-label] [--output FILE]
                                             [--backfill-pass N]

Without ``--output`` the rules go to standard output. The shipped file,
``prometheus/rules/behaviour-profiles.rules.yml``, is this script's output with the default
``--cluster-label cluster``; regenerate it for the label that carries the cluster id in your
Prometheus (``PROMETHEUS_CLUSTER_LABEL``), or with ``--no-cluster-label`` when it holds one cluster.
``--backfill-pass N`` writes only the rules of the N-th promtool backfill pass (1: the rules that read
raw series; 2: the cluster view, which reads the first pass's series): see docs/deploy.md, History.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from behaviour_profiles.telemetry import backfill_passes, recording_rules


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--cluster-label", default="cluster", help="the label carrying the cluster id (default cluster)")
    group.add_argument("--no-cluster-label", action="store_true", help="one cluster per Prometheus")
    parser.add_argument("--output", type=Path, help="write here instead of standard output")
    parser.add_argument("--backfill-pass", type=int, metavar="N", help="only the rules of backfill pass N (1, 2)")
    args = parser.parse_args()
    text = recording_rules(cluster_label=None if args.no_cluster_label else args.cluster_label)
    if args.backfill_pass is not None:
        passes = backfill_passes(text)
        if not 1 <= args.backfill_pass <= len(passes):
            parser.error(f"--backfill-pass must be 1 to {len(passes)}: the rules backfill in {len(passes)} passes")
        text = passes[args.backfill_pass - 1]
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
