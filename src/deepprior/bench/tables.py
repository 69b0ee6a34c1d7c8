"""The tables of ``deepprior bench``: means over the rows, spread over seeds, and the Markdown table."""

from __future__ import annotations

import statistics
from typing import Any


def stop_gap(row: dict[str, Any]) -> float:
    """How far under its run's own peak the automatic stop returned (dB): tile by tile for tiled runs."""
    if "tile_oracle" in row:
        return row["tile_oracle"] - row["tile_auto"]
    return row["oracle"] - row["auto"]


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over all rows; per-image spread over seeds (max - min of the auto-stopped PSNR)."""
    numeric = [k for k, v in rows[0].items() if isinstance(v, (int, float)) and k != "seed" and v is not None]
    out = {k: statistics.fmean(r[k] for r in rows if r.get(k) is not None) for k in numeric}
    by_image: dict[str, list[float]] = {}
    for r in rows:
        by_image.setdefault(r["image"], []).append(r["auto"])
    out["seed_spread"] = {k: max(v) - min(v) for k, v in by_image.items() if len(v) > 1}
    by_seed: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        by_seed.setdefault(int(r["seed"]), []).append(r)
    kept = [k for k in ("fixed", "auto", "oracle") if rows[0].get(k) is not None]
    out["per_seed_mean"] = {seed: {k: statistics.fmean(r[k] for r in rs) for k in kept}
                            for seed, rs in by_seed.items()}
    out["auto_within_0.5dB_of_oracle"] = all(stop_gap(r) <= 0.5 for r in rows)
    out["backtracks"] = sum(r["backtracks"] for r in rows)
    return out


def markdown(result: dict[str, Any]) -> str:
    """The table: per image and seed, then the mean, with the paper's number beside."""
    rows = result["rows"]
    classical = [k for k in rows[0] if k not in _FIXED_KEYS and not k.endswith("_seconds")]
    head = ["image", "seed", "size", "input", "DIP fixed (steps)", "DIP auto (step, rule)", "oracle (step)",
            *classical, "paper DIP", "s auto / fixed"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def fmt(r: dict[str, Any], mean: bool = False) -> str:
        paper = r.get("paper")
        fixed = "-" if r.get("fixed") is None else f"{r['fixed']:.2f}"
        cells = [r["image"], str(r.get("seed", "")), r.get("size", ""), f"{r['input']:.2f}",
                 fixed + ("" if mean else f" ({r['fixed_iterations']})"),
                 f"{r['auto']:.2f}" + ("" if mean else f" ({r['auto_iteration']}, {r['auto_rule']})"),
                 f"{r['oracle']:.2f}" + ("" if mean else f" ({r['oracle_iteration']:.0f})"),
                 *[f"{r[k]:.2f}" for k in classical],
                 "" if paper is None else f"{paper:.2f}", f"{r['auto_seconds']:.0f} / {r['fixed_seconds']:.0f}"]
        return "| " + " | ".join(cells) + " |"

    lines += [fmt(r) for r in rows]
    # The paper's mean over the images in the table (a partial run has fewer than the paper's set).
    paper_mean = None if result["quick"] else result["summary"].get("paper", result["paper_mean"])
    mean = {**result["summary"], "image": "**mean**", "paper": paper_mean}
    lines.append(fmt(mean, mean=True))
    gaps = [stop_gap(r) for r in rows]
    lines.append("")
    lines.append(f"The automatic stop returned within 0.5 dB of its run's own peak on {sum(g <= 0.5 for g in gaps)} of "
                 f"{len(gaps)} runs (largest gap {max(gaps):.2f} dB, mean {statistics.fmean(gaps):.2f} dB)" + (
                     "; for tiled runs tile by tile, each tile's returned step against its own best"
                     if any("tile_oracle" in r for r in rows) else "") + ".")
    per_seed = result["summary"].get("per_seed_mean", {})
    if len(per_seed) > 1:
        spread = result["summary"]["seed_spread"]
        stats = {k: [m[k] for m in per_seed.values()] for k in next(iter(per_seed.values()))}
        lines.append(f"Over {len(per_seed)} seeds (noise, weights and input all change with the seed), mean of the "
                     "per-seed means ± their standard deviation: " + ", ".join(
                         f"{k} {statistics.fmean(v):.2f} ± {statistics.stdev(v):.2f}" for k, v in stats.items())
                     + f"; largest spread of one image's auto result (max - min): {max(spread.values()):.2f} dB.")
    form = f"quick (centre {result['crop']} px crops)" if result["quick"] and result["crop"] else (
        "quick" if result["quick"] else "full")
    if result.get("past_stop"):
        lines.append(f"Each fit ended at {result['past_stop']:g}x the step where its rule fired, not at the step "
                     "count (the steps column says how many it ran); s auto: the time a run that stops would take.")
    if "command" in result:
        lines.append(f"Made with `{result['command']}` on {result['machine']}, {result['date']}.")
    return f"**{result['protocol']}** ({result['task']}, {form}; PSNR in dB" + (
        ", Y channel" if result["task"] == "superres" else "") + ")\n\n" + "\n".join(lines) + "\n"


_FIXED_KEYS = {"image", "seed", "size", "tiles", "input", "fixed", "fixed_iterations", "fixed_seconds", "auto",
               "auto_iteration", "auto_rule", "auto_seconds", "oracle", "oracle_iteration", "paper", "backtracks",
               "tile_auto", "tile_oracle"}
