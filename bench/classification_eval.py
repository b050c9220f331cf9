"""Evaluate ticket classification for whatever provider the settings select.

Runs every labelled ticket through the same analyser the queue trigger uses (prompt file,
schema, structured output, repair) and reports accuracy, per-label precision/recall/F1 for
category and priority, outcome counts, tokens, estimated cost and latency.

    .venv/bin/python -m bench.classification_eval                      # offline by default
    MODEL_PROVIDER=azure AZURE_OPENAI_ENDPOINT=... .venv/bin/python -m bench.classification_eval
    .venv/bin/python -m bench.classification_eval --prompt-version v1 --errors --json out.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from shared.classification.analyser import TicketAnalyser
from shared.classification.models import Ticket, TicketLimits
from shared.config import ROOT, get_settings
from shared.llm import build_model_client
from shared.llm.types import Usage

DEFAULT_FILE = ROOT / "samples" / "eval" / "tickets.jsonl"


def per_label(pairs: list[tuple[str, str | None]], labels: list[str]) -> dict[str, dict[str, float]]:
    """Precision, recall and F1 per label (a handful of counts: no need for scikit-learn)."""
    report = {}
    for label in labels:
        tp = sum(1 for gold, got in pairs if gold == label and got == label)
        predicted = sum(1 for _, got in pairs if got == label)
        actual = sum(1 for gold, _ in pairs if gold == label)
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        report[label] = {"precision": precision, "recall": recall, "f1": f1, "support": actual}
    return report


def evaluate(path: Path, prompt_version: str | None = None) -> dict[str, Any]:
    settings = get_settings()
    from shared import tokens

    tokens.configure(settings.token_cache_dir, settings.token_encoding)
    analyser = TicketAnalyser(settings, build_model_client(settings), prompt_version=prompt_version)
    limits = TicketLimits.from_settings(settings)
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    usage = Usage(model=analyser.prompt.version, calls=0)
    results, latencies, outcomes = [], [], Counter[str]()
    for row in rows:
        label = row.pop("label")
        ticket = Ticket.parse(json.dumps(row), limits)
        outcome = analyser.analyse(ticket, ticket.tenant or settings.default_tenant, f"eval-{ticket.id}")
        outcomes[outcome.outcome] += 1
        latencies.append(outcome.latency_ms or 0)
        if outcome.usage:
            usage = usage + outcome.usage
        got = outcome.analysis or {}
        results.append({"id": ticket.id, "gold": label, "category": got.get("category"),
                        "priority": got.get("priority"), "outcome": outcome.outcome})
    report: dict[str, Any] = {"file": str(path), "tickets": len(rows), "prompt_version": analyser.prompt.version,
                              "provider": settings.provider, "outcomes": dict(outcomes)}
    for field, labels in (("category", settings.ticket_categories), ("priority", settings.ticket_priorities)):
        pairs = [(r["gold"][field], r[field]) for r in results]
        report[field] = {"accuracy": sum(g == p for g, p in pairs) / len(pairs), "labels": per_label(pairs, labels)}
    report["both_correct"] = sum(r["gold"] == {"category": r["category"], "priority": r["priority"]}
                                 for r in results) / len(results)
    report["usage"] = {"model_calls": usage.calls, "prompt_tokens": usage.prompt_tokens,
                       "completion_tokens": usage.completion_tokens, "cost_usd": round(usage.cost_usd, 6)}
    report["latency_ms"] = {"p50": statistics.median(latencies),
                            "p95": sorted(latencies)[max(0, round(0.95 * len(latencies)) - 1)]}
    report["errors"] = [r for r in results if r["gold"] != {"category": r["category"], "priority": r["priority"]}]
    return report


def print_report(report: dict[str, Any], show_errors: bool) -> None:
    print(f"{report['tickets']} tickets, provider {report['provider']}, prompt {report['prompt_version']}, "
          f"outcomes {report['outcomes']}")
    for field in ("category", "priority"):
        print(f"\n{field}: accuracy {report[field]['accuracy']:.3f}")
        print(f"  {'label':<12}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}")
        for label, m in report[field]["labels"].items():
            print(f"  {label:<12}{m['precision']:>10.2f}{m['recall']:>8.2f}{m['f1']:>8.2f}{m['support']:>9}")
    u = report["usage"]
    print(f"\nboth correct: {report['both_correct']:.3f}")
    print(f"usage: {u['model_calls']} calls, {u['prompt_tokens']} prompt + {u['completion_tokens']} completion "
          f"tokens, ~${u['cost_usd']:.6f}; latency p50 {report['latency_ms']['p50']} ms, "
          f"p95 {report['latency_ms']['p95']} ms")
    if show_errors:
        print("\nmisclassified:")
        for e in report["errors"]:
            print(f"  {e['id']}: expected {e['gold']['category']}/{e['gold']['priority']}, "
                  f"got {e['category']}/{e['priority']} ({e['outcome']})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE, help="labelled JSONL tickets")
    parser.add_argument("--prompt-version", help="override CLASSIFIER_PROMPT_VERSION")
    parser.add_argument("--errors", action="store_true", help="list misclassified tickets")
    parser.add_argument("--json", type=Path, help="also write the full report as JSON")
    args = parser.parse_args(argv)
    report = evaluate(args.file, args.prompt_version)
    print_report(report, args.errors)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
