"""The metrics registry: bounded labels, the text exposition and the JSON document agree."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from wirebridge.observe.context import RequestContext
from wirebridge.observe.metrics import MAX_DYNAMIC_MODELS, Metrics


def _ctx(door: str = "chat", model: str | None = "m", routed: bool = True, status: int = 200):
    ctx = RequestContext("r", door, "POST", "/x")
    ctx.model = model
    if routed:
        ctx.routed, ctx.provider = model, "fake"
    ctx.status = status
    return ctx


def _samples(m: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = m.exposition().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_model_labels_are_bounded() -> None:
    m = Metrics(known_models=["gpt-5.5", "alias"])
    assert m.model_label("gpt-5.5", routed=False) == "gpt-5.5"
    assert m.model_label(None, routed=False) == "none"
    assert m.model_label("made-up", routed=False) == "other"  # never reached a model
    for n in range(MAX_DYNAMIC_MODELS):
        assert m.model_label(f"p@model-{n}", routed=True) == f"p@model-{n}"
    assert m.model_label("p@one-too-many", routed=True) == "other"
    assert m.model_label("p@model-3", routed=True) == "p@model-3"  # already known
    assert m.model_label("alias", routed=True) == "alias"


def test_requests_tokens_and_upstream_counters() -> None:
    m = Metrics(known_models=["m"])
    m.request(_ctx(), 0.2)
    m.request(_ctx(), 0.4)
    m.request(_ctx(door="responses", model="nope", routed=False, status=404), 0.001)
    m.first_token("chat", 0.05)
    m.tokens("m", 12, 7)
    m.tokens("m", 3, 0)
    m.upstream_error("fake", "429")
    m.upstream_error("fake", "timeout")
    m.retry("fake")
    m.stream_started("chat")
    m.stream_started("chat")
    m.stream_ended("chat")
    s = _samples(m)

    def req(door: str, model: str, provider: str, status: str) -> float:
        labels = {"front_door": door, "model": model, "provider": provider, "status": status}
        return s[("wirebridge_requests_total", tuple(sorted(labels.items())))]

    assert req("chat", "m", "fake", "200") == 2
    assert req("responses", "other", "none", "404") == 1
    assert s[("wirebridge_request_duration_seconds_count", (("front_door", "chat"),))] == 2
    assert (
        abs(s[("wirebridge_request_duration_seconds_sum", (("front_door", "chat"),))] - 0.6) < 1e-9
    )
    assert s[("wirebridge_time_to_first_token_seconds_count", (("front_door", "chat"),))] == 1
    assert s[("wirebridge_tokens_total", (("direction", "in"), ("model", "m")))] == 15
    assert s[("wirebridge_tokens_total", (("direction", "out"), ("model", "m")))] == 7
    assert s[("wirebridge_upstream_errors_total", (("provider", "fake"), ("status", "429")))] == 1
    assert (
        s[("wirebridge_upstream_errors_total", (("provider", "fake"), ("status", "timeout")))] == 1
    )
    assert s[("wirebridge_upstream_retries_total", (("provider", "fake"),))] == 1
    assert s[("wirebridge_streams_in_flight", (("front_door", "chat"),))] == 1


def test_json_document_has_the_same_numbers() -> None:
    m = Metrics(known_models=["m"])
    m.request(_ctx(), 0.2)
    m.request(_ctx(), 3.0)
    doc = m.as_json()
    requests = doc["wirebridge_requests"]
    assert requests["type"] == "counter"
    total = [x for x in requests["samples"] if x["name"] == "wirebridge_requests_total"]
    assert total == [
        {
            "name": "wirebridge_requests_total",
            "labels": {"front_door": "chat", "model": "m", "provider": "fake", "status": "200"},
            "value": 2.0,
        }
    ]
    (series,) = doc["wirebridge_request_duration_seconds"]["series"]
    assert series["labels"] == {"front_door": "chat"}
    assert series["count"] == 2 and abs(series["sum"] - 3.2) < 1e-9
    assert series["buckets"]["0.25"] == 1 and series["buckets"]["+Inf"] == 2
