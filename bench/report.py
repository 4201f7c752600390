"""The Markdown report of one ``bench/run.py`` run, from its ``results.json`` data."""

from __future__ import annotations

import shlex
import sys
from typing import Any, NamedTuple

from scenarios import CHUNKS, SCENARIOS, SLOW_DELAY_MS

DIRECT = "mock (direct)"
ONE_CPU = "wirebridge (one CPU)"
DIRECT_APART = "mock (direct, other CPU)"
DIRECT_PAIRED = "mock (direct, paired)"  # the mock alone right before a one-CPU round
PYMALLOC = "wirebridge (PYTHONMALLOC=pymalloc)"
FEAT = "wirebridge+feat"
FEAT_NO_STORE = "wirebridge+feat, store: false"  # the same gateway, requests as Codex sends them
SYSTEM_ORDER = [DIRECT, "wirebridge", ONE_CPU, PYMALLOC, FEAT, "litellm"]

BARE_PAIR = "wirebridge (pair)"  # the bare gateway run right before a features run


class Shared(NamedTuple):
    """A variant of the features gateway for several instances (``run.py`` ``shared``)."""

    label: str
    slug: str
    store: str  # sqlite | redis | postgres
    rate_limits: str | None  # None | memory | redis (limits that never refuse)
    stored: bool  # the requests' `store`

    @property
    def system(self) -> str:
        return f"wirebridge+{self.slug}"

    @property
    def bare(self) -> str:
        return f"wirebridge (pair, {self.slug})"


SHARED = (
    Shared("Redis store, `store: true`", "redis-store", "redis", None, True),
    Shared("PostgreSQL store, `store: true`", "postgres-store", "postgres", None, True),
    Shared("rate limits in memory, `store: false`", "limits-memory", "sqlite", "memory", False),
    Shared("rate limits in Redis, `store: false`", "limits-redis", "sqlite", "redis", False),
)
SHARED_ROUNDS = 2  # pairs per variant; the report shows the worse of the two

# the targets of issue 7
T_JSON_RATIO = 30.0
T_SSE_RATIO = 40.0
T_ADDED_P50_MS = 0.5
T_FEATURES_DROP = 0.25
FEATURE_ROUNDS = 3  # alternated bare/features pairs at c=16; the median pair is judged
LATENCY_ROUNDS = 3  # alternated mock-alone/one-CPU pairs at c=1; the median round is judged
T_RSS_MB = 80.0
T_WORKERS = 1.7


class Records:
    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records

    def get(self, system: str, scenario: str, conc: int, tool: str = "loadgen") -> dict | None:
        for r in self.records:
            if (r["system"], r["scenario"], r["concurrency"], r["tool"]) == (
                system,
                scenario,
                conc,
                tool,
            ):
                return r
        return None

    def direct(self, scenario: str, conc: int, tool: str = "loadgen") -> dict | None:
        scen = SCENARIOS.get(scenario)
        return self.get(DIRECT, scen.direct, conc, tool) if scen and scen.direct else None


def _f(v: Any, nd: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _lat(r: dict | None, key: str, field: str = "latency_ms") -> float | None:
    if r is None or not r.get(field):
        return None
    v = r[field].get(key)
    return float(v) if v is not None else None


def _sub(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _ratio(a: dict | None, b: dict | None) -> float | None:
    if a is None or b is None or not b.get("rps"):
        return None
    return float(a["rps"]) / float(b["rps"])


def _per_cpu(r: dict | None) -> float | None:
    """Requests per CPU-second of the server: what one fully available core would serve."""
    if r is None or not r.get("server_cpu_ms_per_req"):
        return None
    return 1000.0 / float(r["server_cpu_ms_per_req"])


def _div(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


# ---------------------------------------------------------------- sections


def machine(data: dict[str, Any]) -> list[str]:
    m = data.get("machine", {})
    a = data["args"]
    rows = [
        ["CPU", f"{m.get('cpu')} — {m.get('cores')} cores"],
        ["RAM", f"{m.get('ram_gib')} GiB"],
        ["kernel / OS", f"{m.get('kernel')} ({m.get('os')})"],
        ["Python", str(m.get("python"))],
        ["load average at start", " ".join(m.get("loadavg", []))],
        ["open files limit", " / ".join(map(str, data.get("nofile") or ["?"]))],
        ["wrk", m.get("wrk") or "not used"],
        [
            "pinning",
            "none"
            if a.get("no_pin")
            else "server under test on CPU 0; mocks, load generator, "
            "wrk and py-spy on the other CPUs (`taskset`)",
        ],
        [
            "priority",
            f"nice {a.get('nice', 0)}"
            + (" (every process the harness started)" if a.get("nice") else ""),
        ],
    ]
    for venv, pkgs in data.get("versions", {}).items():
        rows.append([venv, ", ".join(f"{k} {v}" for k, v in pkgs.items())])
    return ["## Machine", "", *_table(["", ""], rows), ""]


def method(data: dict[str, Any]) -> list[str]:
    a = data["args"]
    return [
        "## How it was measured",
        "",
        f"- Upstream: `bench/mock_upstream.py --server raw` (bare asyncio protocol, pre-encoded "
        f"bodies): one Chat Completions JSON answer, or an SSE stream of {CHUNKS} content chunks "
        f"(+ role, finish and usage chunks); a second instance waits {SLOW_DELAY_MS:g} ms "
        "between chunks for the slow-streams scenario.",
        f"- Each run: {a['warmup']:g} s warm-up, then {a['duration']:g} s measured, at fixed "
        "concurrency (closed loop: each client sends its next request when the previous answer "
        "is complete). A request is an error on an exception, a status other than 200, or an "
        "answer whose tail lacks its end marker (`response.completed`, `[DONE]`, "
        "`message_stop`, …).",
        "- **req/s, p50, p99, TTFB** come from `bench/loadgen.py` (asyncio + aiohttp client + "
        "uvloop, one process): the table uses these numbers throughout, and so do the targets. "
        "TTFB is the time to the first body byte of a stream. **wrk req/s** is `wrk -t1` "
        "(C, one thread) on the same JSON request right after, for the JSON scenarios: it "
        "costs the client core far less per request, so it is closer to the server's capacity.",
        "- **added p50** = the system's p50 minus the p50 of the same kind of request (JSON or "
        "SSE) sent by the same client straight to the mock, at the same concurrency. With "
        "pinning, the client and the mock share a CPU and the gateway has one of its own, so a "
        "request through the gateway crosses CPUs four times and one straight to the mock never; "
        "on a virtual machine each crossing is a costly wake-up. The c=1 runs are therefore "
        "repeated with the gateway moved onto the client's CPU (**wirebridge (one CPU)**: at "
        "c=1 the three take turns, so sharing costs no throughput), the latency target is "
        "judged on those, and the mock moved to the other CPU shows the crossing's price. "
        f"For `responses-json` that is {LATENCY_ROUNDS} rounds, each the mock alone and then "
        "the gateway; its one-CPU row is the median round, against the mock alone of its round.",
        "- **server CPU %** = the server process tree's utime+stime (/proc/PID/stat) over the "
        "run's wall time (100 % = one core); **CPU ms/req** = that CPU time over every request "
        "it answered (warm-up included). **peak RSS** = VmHWM (/proc/PID/status) after "
        "resetting it (`clear_refs`) at the start of the run; for several processes, the "
        "sampled peak of their sum.",
        "- **mock CPU %**: both mocks' CPU over the run (100 % = one core): well under 100 % "
        "means the mock was not the bottleneck. **bg CPU %**: the machine's busy time "
        "(/proc/stat) not spent by the server, the mocks or the load generator, as a share of "
        "all cores — other work on the machine; high values make a run noisy.",
        "",
    ]


def targets(data: dict[str, Any], rs: Records) -> list[str]:
    rows: list[list[str]] = []

    def add(name: str, measured: str, ok: bool | None) -> None:
        rows.append([name, measured, "n/a" if ok is None else ("PASS" if ok else "FAIL")])

    for scen, goal in (("responses-json", T_JSON_RATIO), ("responses-sse", T_SSE_RATIO)):
        wb, ll = rs.get("wirebridge", scen, 16), rs.get("litellm", scen, 16)
        ratio = _ratio(wb, ll)
        text = "not measured"
        if wb and ll:
            text = f"{ratio:,.1f}x ({_f(wb['rps'])} vs {_f(ll['rps'])} req/s, loadgen)"
            wr = _ratio(rs.get("wirebridge", scen, 16, "wrk"), rs.get("litellm", scen, 16, "wrk"))
            if wr is not None:
                text += f"; wrk: {wr:,.1f}x"
            cr = _div(_per_cpu(wb), _per_cpu(ll))
            if cr is not None:
                text += f"; per CPU-second: {cr:,.1f}x"
        add(
            f"`{scen}` c=16, one worker: ≥ {goal:g}x LiteLLM req/s",
            text,
            None if ratio is None else ratio >= goal,
        )
    add(*_latency_target(rs))
    pairs = feature_pairs(rs, "responses-json", 16)
    feat, bare = median_pair(pairs) if pairs else (None, None)
    r = _ratio(feat, bare)
    on = "auth + store + metrics" if data.get("auth", True) else "store + metrics (no auth)"
    rounds = _percents(pairs)
    add(
        f"{on} on, `responses-json` c=16: ≥ {100 * (1 - T_FEATURES_DROP):g} % of bare req/s",
        "not measured"
        if r is None or feat is None or bare is None
        else f"{100 * r:.0f} % ({_f(feat['rps'])} vs {_f(bare['rps'])} req/s, the bare run "
        f"just before; the median of {len(pairs)} pairs: {rounds}); per CPU-second: "
        f"{100 * (_div(_per_cpu(feat), _per_cpu(bare)) or 0):.0f} %{_no_store(rs)}",
        None if r is None else r >= 1 - T_FEATURES_DROP,
    )
    c64 = [
        x
        for x in rs.records
        if (x["system"] == "wirebridge" or x["system"].startswith("wb-")) and x["concurrency"] == 64
    ]
    peak = max((x["server_peak_worker_rss_mb"] for x in c64), default=None)
    add(
        f"peak RSS per worker, every c=64 run: ≤ {T_RSS_MB:g} MB",
        "not measured" if peak is None else f"{peak:.1f} MB (max over {len(c64)} runs)",
        None if peak is None else peak <= T_RSS_MB,
    )
    slow = rs.get("wirebridge", "slow-streams", data["args"]["slow_streams"])
    if slow is None:
        add("slow streams: zero errors, memory back to baseline", "not measured", None)
    else:
        # Judged at the second look when there is one: the gateway releases memory at most
        # once per server.memory_release_interval (30 s), and the c=64 runs just before have
        # usually had their release, so the first look may come before this burst's is due.
        before, after = slow["rss_before_mb"], slow["rss_after_mb"]
        late = slow.get("rss_late_mb")
        judged = after if late is None else late
        back = judged <= before + max(10.0, 0.10 * before)
        looks = f"{after} MB {slow['settle_s']:g} s later"
        if late is not None:
            looks += f", {late} MB {slow['settle_long_s']:g} s later"
        when = "after the settle time" if late is None else "at the second look"
        add(
            f"{slow['concurrency']:,} concurrent slow streams: zero errors, RSS back to baseline "
            f"(within max(10 MB, 10 %) {when})",
            f"{slow['errors']} errors, {slow['requests']:,} complete; RSS {before} → peak "
            f"{slow['server_peak_rss_mb']} → {looks}",
            slow["errors"] == 0 and slow["requests"] == slow["concurrency"] and back,
        )
        m = rs.get(PYMALLOC, "slow-streams", data["args"]["slow_streams"])
        if m is not None:
            mb, ma, ml = m["rss_before_mb"], m["rss_after_mb"], m.get("rss_late_mb")
            m_back = (ma if ml is None else ml) <= mb + max(10.0, 0.10 * mb)
            m_looks = f"{ma} MB" if ml is None else f"{ma} MB, later {ml} MB"
            add(
                "… the same under pymalloc (`PYTHONMALLOC=pymalloc`, not the default)",
                f"{m['errors']} errors; RSS {mb} → peak {m['server_peak_rss_mb']} → {m_looks}",
                m["errors"] == 0 and m_back,
            )
    add(*_workers_target(data, rs))
    return ["## Targets", "", *_table(["target", "measured", "result"], rows), ""]


def _workers_target(data: dict[str, Any], rs: Records) -> tuple[str, str, bool | None]:
    """Judged on the capped pair when it ran (each worker held to the same share of a core:
    the gateway's scaling), by wrk before loadgen (the Python load generator takes a good
    part of a core itself); the uncapped pair shows the whole two-core machine's limit."""
    name = f"two workers ≥ {T_WORKERS}x one (`responses-json` c=64)"
    if not data.get("workers_option"):
        return name, "skipped: no `serve --workers` yet", None
    parts, judged = [], None
    cap = data.get("worker_cap")
    for kind in ("capped", "unpinned"):
        for tool in ("wrk", "loadgen"):
            one = rs.get(f"wb-1w-{kind}", "responses-json", 64, tool)
            two = rs.get(f"wb-2w-{kind}", "responses-json", 64, tool)
            r = _ratio(two, one)
            if r is None or not one or not two:
                continue
            what = f"each worker capped at {cap:g} core" if kind == "capped" else "uncapped"
            parts.append(f"{what}, {tool}: {r:.2f}x ({_f(two['rps'])} vs {_f(one['rps'])} req/s)")
            judged = r if judged is None else judged
    return name, "; ".join(parts) or "not measured", None if judged is None else judged >= T_WORKERS


def latency_rounds(rs: Records) -> list[tuple[dict, dict]]:
    """The (one-CPU gateway, mock alone) ``responses-json`` c=1 runs made one after the
    other, in the order they ran (``one_cpu_latency`` in run.py)."""
    twin = SCENARIOS["responses-json"].direct or ""
    gw = _rounds(rs, ONE_CPU, "responses-json", 1)
    alone = _rounds(rs, DIRECT_PAIRED, twin, 1)
    return [(gw[n], alone[n]) for n in sorted(gw) if n in alone]


def _added(pair: tuple[dict, dict]) -> float:
    added = _sub(_lat(pair[0], "p50"), _lat(pair[1], "p50"))
    return float("inf") if added is None else added


def median_round(rounds: list[tuple[dict, dict]]) -> tuple[dict, dict]:
    """The round with the median added p50."""
    return _median(rounds, lambda p: -_added(p))


def _one_cpu(rs: Records) -> tuple[dict | None, dict | None]:
    """The one-CPU ``responses-json`` c=1 run to show and judge, and the mock-alone run it is
    compared with: the median round, or (a run without rounds) the single one against the
    mock alone measured at the start."""
    rounds = latency_rounds(rs)
    if rounds:
        return median_round(rounds)
    return rs.get(ONE_CPU, "responses-json", 1), rs.direct("responses-json", 1)


def _latency_target(rs: Records) -> tuple[str, str, bool | None]:
    """Judged on the one-CPU run when there is one (see ``one_cpu_latency`` in run.py): the
    pinned-apart difference also holds the cross-CPU wake-ups the direct path never pays."""
    name = f"added p50 latency, `responses-json` c=1: ≤ {T_ADDED_P50_MS} ms"
    d = rs.direct("responses-json", 1)
    apart = _sub(_lat(rs.get("wirebridge", "responses-json", 1), "p50"), _lat(d, "p50"))
    one, alone = _one_cpu(rs)
    added = _sub(_lat(one, "p50"), _lat(alone, "p50"))
    parts = []
    if added is not None:
        rounds = latency_rounds(rs)
        base = "the mock alone just before" if rounds else "direct"
        if len(rounds) > 1:
            each = ", ".join(f"{_added(p):.3f}" for p in rounds)
            base += f"; the median of {len(rounds)} rounds: {each} ms"
        parts.append(
            f"{added:.3f} ms with the gateway on the client's CPU "
            f"({_lat(one, 'p50'):.3f} - {_lat(alone, 'p50'):.3f} {base})"
        )
    if apart is not None:
        parts.append(f"pinned to a CPU of its own: {apart:.3f} ms")
    moved = rs.get(DIRECT_APART, "chat-json", 1)
    cross = _sub(_lat(moved, "p50"), _lat(d, "p50"))
    if cross is not None:
        parts.append(f"the mock alone moved to the other CPU: +{cross:.3f} ms (two crossings)")
    wa = _sub(
        _lat(rs.get("wirebridge", "responses-json", 1, "wrk"), "p50"),
        _lat(rs.direct("responses-json", 1, "wrk"), "p50"),
    )
    if wa is not None:
        parts.append(f"wrk, pinned apart: {wa:.3f} ms")
    judged = added if added is not None else apart
    text = "; ".join(parts) or "not measured"
    return name, text, None if judged is None else judged <= T_ADDED_P50_MS


def scenario_tables(data: dict[str, Any], rs: Records) -> list[str]:
    out = [
        "## Results",
        "",
        "req/CPU-s = requests per second of server CPU time (1000 / CPU ms per request): the "
        "rate one fully available core would serve, robust to other load on the machine. "
        "x LiteLLM compares req/s, and in brackets req/CPU-s. CPU % mock/client/bg: the mocks, "
        "the load generator (100 = one core) and other processes on the machine "
        "(100 = every core).",
        "",
    ]
    head = ["c", "system", "req/s", "wrk req/s", "p50 ms", "p99 ms", "TTFB p50", "added p50"]
    head += ["x LiteLLM", "server CPU %", "CPU ms/req", "req/CPU-s", "peak RSS MB", "errors"]
    head += ["CPU % mock/client/bg"]
    names = [
        n
        for n in SCENARIOS
        if any(r["scenario"] == n and r["system"] != DIRECT for r in rs.records)
    ]
    for name in names:
        scen = SCENARIOS[name]
        out += [f"### `{name}` - `POST {scen.path}`" + (" (SSE)" if scen.stream else ""), ""]
        rows = []
        concs = sorted({r["concurrency"] for r in rs.records if r["scenario"] == name})
        for c in concs:
            d = rs.direct(name, c)
            ll = rs.get("litellm", name, c)
            for system in SYSTEM_ORDER:
                direct_row = system == DIRECT
                r, base = (d if direct_row else rs.get(system, name, c)), d
                if system == ONE_CPU and (name, c) == ("responses-json", 1):
                    r, base = _one_cpu(rs)
                if r is None:
                    continue
                w = rs.direct(name, c, "wrk") if direct_row else rs.get(system, name, c, "wrk")
                added = None if direct_row else _sub(_lat(r, "p50"), _lat(base, "p50"))
                vs = "-"
                if system == "wirebridge" and ll is not None:
                    vs = f"{_f(_ratio(r, ll))} ({_f(_div(_per_cpu(r), _per_cpu(ll)))})"
                mock_cpu = r["server_cpu_pct"] if direct_row else r["mock_cpu_pct"]
                row = [
                    str(c),
                    f"{system} ({scen.direct})" if direct_row else system,
                    _f(r["rps"]),
                    _f(w["rps"]) if w else "-",
                    _f(_lat(r, "p50"), 2),
                    _f(_lat(r, "p99"), 2),
                    _f(_lat(r, "p50", "ttfb_ms"), 2) if scen.stream else "-",
                    _f(added, 2),
                    vs,
                    _f(r["server_cpu_pct"]) if not direct_row else "-",
                    _f(r["server_cpu_ms_per_req"], 3) if not direct_row else "-",
                    _f(_per_cpu(r), 0) if not direct_row else "-",
                    _f(r["server_peak_rss_mb"]) if not direct_row else "-",
                    _f(r["errors"]),
                    f"{mock_cpu:.0f}/{r['client_cpu_pct']:.0f}/{r['background_cpu_pct']:.0f}",
                ]
                rows.append(row)
        out += [*_table(head, rows), ""]
    return out


def mock_alone(rs: Records) -> list[str]:
    recs = [
        r
        for r in rs.records
        if r["system"] in (DIRECT, DIRECT_APART) and r["scenario"] != "slow-streams"
    ]
    if not recs:
        return []
    rows = []
    for r in sorted(recs, key=lambda x: (x["scenario"], x["concurrency"], x["tool"])):
        apart = " (mock on the other CPU)" if r["system"] == DIRECT_APART else ""
        rows.append(
            [
                f"`{r['scenario']}`{apart}",
                str(r["concurrency"]),
                r["tool"],
                _f(r["rps"]),
                _f(_lat(r, "p50"), 3),
                _f(_lat(r, "p99"), 3),
                _f(r["server_cpu_pct"]),
                _f(r["client_cpu_pct"]),
                _f(r["background_cpu_pct"]),
                _f(r["errors"]),
            ]
        )
    head = ["request", "c", "client", "req/s", "p50 ms", "p99 ms", "mock CPU %"]
    head += ["client CPU %", "bg CPU %", "errors"]
    return [
        "## The mock alone",
        "",
        "Measured first: the same requests straight to the mock, by the same clients. The "
        "mock's CPU (100 % = one core) shows how far it is from being a limit; the client's "
        "CPU, how close the load generator itself is to its own.",
        "",
        *_table(head, rows),
        "",
    ]


def _rounds(rs: Records, system: str, scenario: str, conc: int) -> dict[int, dict]:
    """The loadgen runs of one system, scenario and concurrency by round (a run made once,
    or before runs had rounds, is round 0)."""
    return {
        r.get("round", 0): r
        for r in rs.records
        if (r["system"], r["scenario"], r["concurrency"], r["tool"])
        == (system, scenario, conc, "loadgen")
    }


def _median(pairs: list[tuple[dict, dict]], worse_first: Any) -> tuple[dict, dict]:
    """The median pair by ``worse_first`` (ascending from the worst): of an even count, the
    worse of the two middle ones."""
    return sorted(pairs, key=worse_first)[(len(pairs) - 1) // 2]


def feature_pairs(
    rs: Records, scenario: str, conc: int, system: str = FEAT, bare_system: str = BARE_PAIR
) -> list[tuple[dict, dict]]:
    """The (features, bare) runs made one after the other, in the order they ran."""
    feat = _rounds(rs, system, scenario, conc)
    bare = _rounds(rs, bare_system, scenario, conc)
    return [(feat[n], bare[n]) for n in sorted(feat) if n in bare]


def median_pair(pairs: list[tuple[dict, dict]]) -> tuple[dict, dict]:
    """The pair with the median features/bare ratio."""
    return _median(pairs, lambda p: _ratio(*p) or 0)


def _no_store(rs: Records) -> str:
    """The same gateway answering ``store: false`` requests, for the target line: what auth
    and metrics cost a client that does not store (Codex CLI)."""
    pairs = feature_pairs(rs, "responses-json", 16, FEAT_NO_STORE)
    if not pairs:
        return ""
    r = _ratio(*median_pair(pairs)) or 0
    return (
        "; the same requests with `store: false`, as Codex CLI sends them: "
        f"{100 * r:.0f} % ({_percents(pairs)})"
    )


def _percents(pairs: list[tuple[dict, dict]]) -> str:
    return ", ".join(f"{100 * (_ratio(f, b) or 0):.0f} %" for f, b in pairs)


def features(data: dict[str, Any], rs: Records) -> list[str]:
    feat = [r for r in rs.records if r["system"] in (FEAT, FEAT_NO_STORE)]
    if not feat:
        return []
    on = ["sqlite store (`store: true` in every request)", "metrics (always on in this build)"]
    if data.get("auth", True):
        on.insert(0, "client keys (`server.api_keys`, `Authorization: Bearer`)")
    out = [
        "## Auth + store + metrics",
        "",
        "On: " + "; ".join(on) + ". Each run follows the same run on the bare gateway; at "
        f"c=16 in {FEATURE_ROUNDS} alternated pairs, of which the target takes the median. "
        "For `responses-json` at c=16 each pair also sends the same requests with "
        "`store: false` (the store configured, nothing written), as Codex CLI sends them.",
        "",
    ]
    rows = []
    for r in feat:
        pairs = feature_pairs(rs, r["scenario"], r["concurrency"], r["system"])
        bare = next((b for f, b in pairs if f is r), None)
        rows.append(
            [
                f"`{r['scenario']}`",
                "false" if r["system"] == FEAT_NO_STORE else "true",
                str(r["concurrency"]),
                str(r.get("round", 0) + 1),
                _f(bare["rps"]) if bare else "-",
                _f(r["rps"]),
                _f(100 * x, 0) + " %" if (x := _ratio(r, bare)) is not None else "-",
                _f(_lat(bare, "p50"), 2),
                _f(_lat(r, "p50"), 2),
                _f(bare["server_cpu_ms_per_req"], 3) if bare else "-",
                _f(r["server_cpu_ms_per_req"], 3),
                _f(r["errors"]),
            ]
        )
    head = ["scenario", "store", "c", "pair", "bare req/s", "features req/s", "of bare"]
    head += ["bare p50"]
    head += ["feat p50", "bare CPU ms/req", "feat CPU ms/req", "errors"]
    out += _table(head, rows)
    extra = []
    if "auth_status_without_key" in data:
        extra.append(f"a request without a key was answered {data['auth_status_without_key']}")
    if "metrics_status" in data:
        extra.append(f"`/metrics/prometheus` answered {data['metrics_status']}")
    if "store_bytes" in data:
        extra.append(f"the sqlite store grew to {data['store_bytes'] / 1e6:.1f} MB")
    return [*out, "", ("Checks: " + "; ".join(extra) + ".") if extra else "", ""]


def shared(rs: Records) -> list[str]:
    rows = []
    for v in SHARED:
        pairs = feature_pairs(rs, "responses-json", 16, v.system, v.bare)
        if not pairs:
            continue
        run, bare = median_pair(pairs)
        rows.append(
            [
                v.label,
                _percents(pairs),
                _f(100 * (_ratio(run, bare) or 0), 0) + " %",
                _f(bare["rps"]),
                _f(run["rps"]),
                _f(bare["server_cpu_ms_per_req"], 3),
                _f(run["server_cpu_ms_per_req"], 3),
                _f(sum(f["errors"] for f, _ in pairs)),
            ]
        )
    if not rows:
        return []
    out = [
        "## Several instances: Redis and PostgreSQL stores, rate limits",
        "",
        "The features gateway (client keys, metrics) with a store in a server, or with rate "
        "limits so high they never refuse, counted in memory or in Redis. Redis appends every "
        "write to a file fsynced each second; PostgreSQL runs with its defaults; both on the "
        "clients' CPU. `responses-json` at c=16, each run right after the bare gateway, in "
        f"{SHARED_ROUNDS} pairs; the worse pair is shown. Not judged: the target is the default "
        "store's.",
        "",
    ]
    head = ["variant", "of bare, each pair", "of bare", "bare req/s", "req/s"]
    head += ["bare CPU ms/req", "CPU ms/req", "errors"]
    return [*out, *_table(head, rows), ""]


def slow_streams(data: dict[str, Any], rs: Records) -> list[str]:
    n = data["args"]["slow_streams"]
    r = rs.get("wirebridge", "slow-streams", n)
    if r is None:
        return []
    d = rs.get(DIRECT, "slow-streams", n)
    a = data["args"]

    def col(x: dict | None, gateway: bool) -> list[str]:
        if x is None:
            return ["-"] * 10
        samples = "; ".join(f"{k} x{v}" for k, v in x["error_samples"].items()) or "none"
        return [
            f"{x['requests']:,} / {x['errors']:,}",
            _f(x.get("max_in_flight")),
            _f(x.get("server_fds_peak")) if gateway else "-",
            f"{x['duration_s']:.1f} s",
            f"{_f(_lat(x, 'p50'), 0)} / {_f(_lat(x, 'p99'), 0)} ms",
            f"{_f(_lat(x, 'p50', 'ttfb_ms'), 0)} / {_f(_lat(x, 'p99', 'ttfb_ms'), 0)} ms",
            f"{x['rss_before_mb']} / {x['server_peak_rss_mb']} / {x['rss_after_mb']} MB"
            + (f" / {x['rss_late_mb']} MB" if "rss_late_mb" in x else "")
            if gateway
            else "-",
            f"{x.get('fds_before', '-')} / {x.get('fds_after', '-')}"
            + (f" / {x['fds_late']}" if "fds_late" in x else "")
            if gateway
            else "-",
            f"{x['server_cpu_s']:.1f} s ({x['server_cpu_ms_per_req']:.2f} ms per stream)",
            samples,
        ]

    names = [
        "completed / errors",
        "most in flight at once (client side)",
        "peak open fds of the server",
        "wall time",
        "stream duration p50 / p99",
        "TTFB p50 / p99",
        "gateway RSS before / peak / after (/ later)",
        "gateway open fds before / after (/ later)",
        "server CPU",
        "error samples",
    ]
    m = rs.get(PYMALLOC, "slow-streams", n)
    cols = [col(d, False), col(r, True)] + ([col(m, True)] if m else [])
    rows = [[k, *vals] for k, *vals in zip(names, *cols, strict=True)]
    return [
        "## Slow streams",
        "",
        f"{n:,} clients each open one `/v1/responses` SSE stream over the slow mock "
        f"({CHUNKS} chunks, {SLOW_DELAY_MS:g} ms apart), all started within "
        f"{a['slow_ramp']:g} s; RSS measured before, at peak, {r['settle_s']:g} s after the "
        "last stream ended"
        + (f" and again {r['settle_long_s']:g} s after it" if "settle_long_s" in r else "")
        + ". The same client first opens the same number of chat streams straight from the "
        "slow mock, to show that the client and the mock take them.",
        "",
        *_table(["", "mock directly (chat SSE)", "wirebridge", *([PYMALLOC] if m else [])], rows),
        "",
    ]


WORKER_HEAD = ["scenario", "c", "client", "1 worker req/s", "2 workers req/s", "ratio"]
WORKER_HEAD += ["1w peak RSS MB"]
WORKER_HEAD += ["2w peak RSS/worker MB", "2w CPU %"]


def workers(data: dict[str, Any], rs: Records) -> list[str]:
    rows = []
    for kind in ("unpinned", "capped"):
        for scen in ("responses-json", "responses-sse"):
            for c, tool in ((16, "loadgen"), (16, "wrk"), (64, "loadgen"), (64, "wrk")):
                one = rs.get(f"wb-1w-{kind}", scen, c, tool)
                two = rs.get(f"wb-2w-{kind}", scen, c, tool)
                if one and two:
                    rows.append(
                        [
                            kind,
                            f"`{scen}`",
                            str(c),
                            tool,
                            _f(one["rps"]),
                            _f(two["rps"]),
                            _f(_ratio(two, one), 2),
                            _f(one["server_peak_worker_rss_mb"]),
                            _f(two["server_peak_worker_rss_mb"]),
                            _f(two["server_cpu_pct"]),
                        ]
                    )
    if not rows:
        return []
    cap = data.get("worker_cap")
    capped = (
        f" **capped**: every worker process in a cgroup of its own, held to {cap:g} of a core "
        "(`bench/cpucap.py`), so that one worker and two each have the same budget and the "
        "client and the mock have room to spare: this measures how the gateway scales."
        if cap
        else ""
    )
    return [
        "## Two workers",
        "",
        "**unpinned**: no limits; on a two-core machine the load generator and the mock need "
        "CPU too, so two workers hit the machine's limit, not the gateway's." + capped,
        "",
        *_table(["kind", *WORKER_HEAD], rows),
        "",
    ]


def profiles(data: dict[str, Any]) -> list[str]:
    prof = data.get("profile")
    if not prof:
        return []
    out = [
        "## Profile (py-spy)",
        "",
        "py-spy 250 Hz, `--nonblocking --gil` (only samples of the thread holding the GIL: "
        "CPU work, not waiting), on the one-worker gateway during a separate c=16 run of each "
        "scenario. Own time = samples whose innermost Python frame is the function (time in C "
        "extensions such as orjson, uvloop or aiohttp's parser counts toward the Python frame "
        "that called them; `run_app` is uvloop's own loop and socket work). Inclusive = "
        "samples with the function anywhere on the stack.",
        "",
    ]
    for name, p in prof.items():
        out += [
            f"### `{name}` c=16 — {p['samples']:,} samples, {_f(p['rps_while_profiled'])} req/s "
            f"while profiled; {p.get('executor_threads_pct', 0):g} % of samples in executor "
            f"threads (`run_in_executor`, `to_thread`); flamegraph `{p['svg']}`",
            "",
        ]
        n = max(len(p["own"]), len(p["inclusive_wirebridge"]), len(p["layers"]))
        rows = []
        for i in range(n):
            own = p["own"][i] if i < len(p["own"]) else ("", "")
            inc = p["inclusive_wirebridge"][i] if i < len(p["inclusive_wirebridge"]) else ("", "")
            lay = p["layers"][i] if i < len(p["layers"]) else ("", "")
            rows.append(
                [
                    f"`{own[0]}`" if own[0] else "",
                    f"{own[1]}" if own[0] else "",
                    f"`{inc[0]}`" if inc[0] else "",
                    f"{inc[1]}" if inc[0] else "",
                    f"{lay[0]}",
                    f"{lay[1]}" if lay[0] else "",
                ]
            )
        head = ["own time", "%", "inclusive (wirebridge code)", "%", "own time by package", "%"]
        out += [*_table(head, rows), ""]
    return out


def render(data: dict[str, Any], raw_dir: str) -> str:
    rs = Records(data["records"])
    m = data.get("machine", {})
    argv = data.get("command") or sys.argv[1:]
    cmd = " ".join(shlex.quote(x) for x in ["python", "bench/run.py", *argv])
    lines = [
        f"# wirebridge benchmark — {data.get('started', '')[:10]} on {m.get('host', '?')}",
        "",
        f"`{cmd}` — started {data.get('started')}, finished {data.get('finished')}. "
        f"Raw data, configs, logs and profiles: `{raw_dir}/`.",
        "",
    ]
    lines += targets(data, rs)
    lines += mock_alone(rs)
    lines += scenario_tables(data, rs)
    lines += features(data, rs)
    lines += shared(rs)
    lines += slow_streams(data, rs)
    lines += workers(data, rs)
    lines += profiles(data)
    if data.get("choices"):
        import choices

        lines += choices.render(data["choices"], level=2)
    lines += machine(data)
    lines += method(data)
    if data.get("notes"):
        lines += ["## Notes", "", *[f"- {n}" for n in data["notes"]], ""]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    # python bench/report.py results/<date>-<host>/results.json > report.md: render again
    # (after a change to this module) from a run's raw data.
    import json
    from pathlib import Path

    raw = Path(sys.argv[1])
    print(render(json.loads(raw.read_text()), raw.parent.name), end="")
