"""Judge mode (rag.evaluation.judge): RAGAS faithfulness and answer relevance, scored by
the real `openai` client against the scripted fake server and the real embedder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fake_openai_server import FakeOpenAIServer
from pydantic import SecretStr

from rag.embeddings import Embedder
from rag.errors import ConfigError
from rag.evaluation.judge import (
    ClaimsReply,
    Judge,
    JudgeParseError,
    JudgeResult,
    QuestionsReply,
    VerdictsReply,
    build_judge,
    parse_reply,
    summarise_judge,
)
from rag.settings import Settings
from rag.types import Answer, Chunk, DocumentMeta, Passage

QUESTION = "When did Armenia stop taking part in CSTO exercises?"
PASSAGE_TEXT = (
    "Armenia stopped taking part in CSTO military exercises in 2023. Prime Minister "
    "Pashinyan said the alliance had failed to protect the country."
)
ANSWER_TEXT = (
    "Armenia stopped taking part in CSTO exercises in 2023 [1]. Pashinyan said the "
    "alliance had failed Armenia [1]. Russia then moved troops to Armenia [1]."
)
CLAIMS = [
    "Armenia stopped taking part in CSTO exercises in 2023.",
    "Pashinyan said the CSTO had failed Armenia.",
    "Russia moved troops to Armenia after that.",
]


@pytest.fixture(autouse=True)
def _no_ambient_config(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "RAG_LLM_API_KEY",
        "RAG_LLM_BASE_URL",
        "RAG_LLM_MODEL",
        "RAG_JUDGE_BASE_URL",
        "RAG_JUDGE_MODEL",
        "RAG_JUDGE_API_KEY",
        "RAG_JUDGE_CACHE",
    ):
        monkeypatch.delenv(var, raising=False)


def make_settings(tmp_path: Path, base_url: str | None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "index_dir": tmp_path / "index",
        "judge_base_url": base_url,
        "judge_model": "judge-model",
        "judge_cache": tmp_path / "eval" / "judge-cache.sqlite",
        "llm_timeout_s": 5.0,
        "llm_max_retries": 0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def make_answer(text: str = ANSWER_TEXT, *, refused: bool = False) -> Answer:
    meta = DocumentMeta(doc_id="d1", source="d1.md", content_hash="h", title="CSTO", author="A")
    chunk = Chunk("d1:0", "d1", 0, PASSAGE_TEXT, 0, len(PASSAGE_TEXT))
    passage = Passage(chunk=chunk, meta=meta, score=1.0, rank=1)
    return Answer(
        question=QUESTION,
        standalone_question=QUESTION,
        text=text,
        citations=(),
        passages=(passage,),
        refused=refused,
        backend="openai",
    )


def claims_reply(claims: list[str] = CLAIMS) -> str:
    return json.dumps({"claims": claims})


def verdicts_reply(verdicts: list[int], claims: list[str] = CLAIMS) -> str:
    return json.dumps(
        {
            "verdicts": [
                {"claim": c, "verdict": v, "reason": "Passage 1." if v else "Not in the passages."}
                for c, v in zip(claims, verdicts, strict=True)
            ]
        }
    )


def questions_reply(questions: list[str], noncommittal: int = 0) -> str:
    return json.dumps({"questions": questions, "noncommittal": noncommittal})


ON_TOPIC = [
    "When did Armenia stop participating in CSTO military exercises?",
    "In which year did Armenia stop joining CSTO exercises?",
    "When did Armenia quit the CSTO exercises?",
]
OFF_TOPIC = [
    "How do you bake banana bread?",
    "What is the best oven temperature for sourdough?",
    "Which flour makes the softest cake?",
]


def script_all(server: FakeOpenAIServer, verdicts: list[int], questions: list[str]) -> None:
    server.reply(claims_reply())
    server.reply(verdicts_reply(verdicts))
    server.reply(questions_reply(questions))


# --- faithfulness -------------------------------------------------------------------------


def test_faithfulness_is_the_share_of_supported_claims(
    tmp_path: Path, fake_openai: FakeOpenAIServer, embedder: Embedder
) -> None:
    script_all(fake_openai, [1, 1, 0], ON_TOPIC)
    with build_judge(make_settings(tmp_path, fake_openai.base_url), embedder) as judge:
        result = judge.judge(QUESTION, make_answer())
    assert result.faithfulness == pytest.approx(2 / 3)
    assert round(result.faithfulness or 0, 3) == 0.667
    assert [c.supported for c in result.claims] == [True, True, False]
    assert [c.claim for c in result.claims] == CLAIMS
    assert result.claims[2].reason == "Not in the passages."
    assert result.errors == () and result.parse_failures == ()
    assert result.requests == 3 and result.cached == 0

    claims_request, verdicts_request, questions_request = fake_openai.chat_requests
    claims_prompt = json.dumps(claims_request.messages)
    assert "Armenia stopped taking part in CSTO exercises in 2023." in claims_prompt
    assert "[1]" not in claims_prompt  # citation markers are not claims
    verdicts_prompt = json.dumps(verdicts_request.messages)
    assert "Pashinyan said the alliance had failed to protect the country." in verdicts_prompt
    assert all(claim in verdicts_prompt for claim in CLAIMS)
    assert '{"questions": [' in questions_request.messages[-1]["content"]


def test_the_judge_always_asks_at_temperature_zero(
    tmp_path: Path, fake_openai: FakeOpenAIServer, embedder: Embedder
) -> None:
    settings = make_settings(
        tmp_path, fake_openai.base_url, llm_temperature=0.9, judge_max_tokens=777
    )
    script_all(fake_openai, [1, 1, 1], ON_TOPIC)
    with build_judge(settings, embedder) as judge:
        judge.judge(QUESTION, make_answer())
    assert len(fake_openai.chat_requests) == 3
    for request in fake_openai.chat_requests:
        assert request.body["temperature"] == 0
        assert request.model == "judge-model"
        assert request.max_tokens == 777
        assert not request.stream


def test_an_answer_without_claims_has_no_faithfulness(
    tmp_path: Path, fake_openai: FakeOpenAIServer, embedder: Embedder
) -> None:
    fake_openai.reply(claims_reply([]))
    fake_openai.reply(questions_reply(ON_TOPIC))
    with build_judge(make_settings(tmp_path, fake_openai.base_url), embedder) as judge:
        result = judge.judge(QUESTION, make_answer())
    assert result.faithfulness is None and result.parse_failures == ()
    assert result.answer_relevance is not None
    assert len(fake_openai.chat_requests) == 2  # no verdict request


# --- failures: None, never 0 --------------------------------------------------------------


def test_malformed_json_is_a_parse_failure_not_a_zero(
    tmp_path: Path, fake_openai: FakeOpenAIServer, embedder: Embedder
) -> None:
    fake_openai.reply('{"claims": ["Armenia left", ')  # cut off
    fake_openai.reply(questions_reply(ON_TOPIC))
    with build_judge(make_settings(tmp_path, fake_openai.base_url), embedder) as judge:
        bad = judge.judge(QUESTION, make_answer())
        assert bad.faithfulness is None
        assert bad.parse_failures == ("faithfulness",)
        assert bad.errors and bad.errors[0].startswith("faithfulness:")
        assert bad.answer_relevance is not None  # the other metric goes on

        script_all(fake_openai, [1, 1, 0], ON_TOPIC)
        good = judge.judge(QUESTION, make_answer(ANSWER_TEXT + " "))  # other prompt: no cache
    summary = summarise_judge([bad, good])
    assert summary.n == 2
    assert summary.faithfulness == pytest.approx(0.6667)  # not (0 + 0.667) / 2
    assert summary.n_faithfulness == 1
    assert summary.n_answer_relevance == 2
    assert summary.parse_failures == {"faithfulness": 1, "answer_relevance": 0}
    assert summary.llm_failures == {"faithfulness": 0, "answer_relevance": 0}


@pytest.mark.parametrize(
    "reply",
    [
        '{"verdicts": [{"claim": "x", "verdict": "yes"}]}',  # verdict not 0/1
        '{"verdicts": [{"claim": "x", "verdict": 1}]}',  # 1 verdict for 3 claims
        '{"answer": "no verdicts key"}',
        "I cannot judge this.",
    ],
)
def test_an_invalid_verdicts_reply_is_a_parse_failure(
    tmp_path: Path, fake_openai: FakeOpenAIServer, embedder: Embedder, reply: str
) -> None:
    fake_openai.reply(claims_reply())
    fake_openai.reply(reply)
    fake_openai.reply(questions_reply(ON_TOPIC))
    with build_judge(make_settings(tmp_path, fake_openai.base_url), embedder) as judge:
        result = judge.judge(QUESTION, make_answer())
    assert result.faithfulness is None
    assert result.parse_failures == ("faithfulness",)
    assert result.answer_relevance is not None


def test_a_failing_judge_endpoint_is_recorded_and_the_run_goes_on(
    tmp_path: Path, fake_openai: FakeOpenAIServer, embedder: Embedder
) -> None:
    fake_openai.status(500, "model crashed")
    fake_openai.reply(questions_reply(ON_TOPIC))
    with build_judge(make_settings(tmp_path, fake_openai.base_url), embedder) as judge:
        result = judge.judge(QUESTION, make_answer())
    assert result.faithfulness is None
    assert result.llm_failures == ("faithfulness",) and result.parse_failures == ()
    assert "model crashed" in result.errors[0]
    assert result.answer_relevance is not None
    assert summarise_judge([result]).llm_failures["faithfulness"] == 1


def test_replies_in_fences_or_prose_are_accepted() -> None:
    fenced = '```json\n{"claims": ["A {braced} claim."]}\n```'
    assert parse_reply(fenced, ClaimsReply).claims == ["A {braced} claim."]
    prose = 'Sure! Here it is: {"questions": ["Why?"], "noncommittal": 0} Hope that helps.'
    assert parse_reply(prose, QuestionsReply).questions == ["Why?"]
    braces_first = 'Format {like this}: {"verdicts": [{"claim": "c", "verdict": "1"}]}'
    assert parse_reply(braces_first, VerdictsReply).verdicts[0].verdict == 1
    with pytest.raises(JudgeParseError, match="no JSON object"):
        parse_reply("no json here", ClaimsReply)
    with pytest.raises(JudgeParseError, match="claims"):
        parse_reply('{"claim": []}', ClaimsReply)


# --- cache --------------------------------------------------------------------------------


def test_a_rerun_with_the_cache_sends_no_request(
    tmp_path: Path, fake_openai: FakeOpenAIServer, embedder: Embedder
) -> None:
    settings = make_settings(tmp_path, fake_openai.base_url)
    script_all(fake_openai, [1, 0, 1], ON_TOPIC)
    with build_judge(settings, embedder) as judge:
        first = judge.judge(QUESTION, make_answer())
    n_requests = len(fake_openai.requests)
    assert n_requests == 3

    with build_judge(settings, embedder) as judge:  # a new run, same file
        second = judge.judge(QUESTION, make_answer())
    assert len(fake_openai.requests) == n_requests  # zero HTTP requests
    assert second.requests == 0 and second.cached == 3
    assert second.faithfulness == first.faithfulness
    assert second.answer_relevance == pytest.approx(first.answer_relevance)
    assert second.claims == first.claims

    other_model = make_settings(tmp_path, fake_openai.base_url, judge_model="other-judge")
    fake_openai.reply(claims_reply())
    fake_openai.reply(verdicts_reply([1, 1, 1]))
    fake_openai.reply(questions_reply(ON_TOPIC))
    with build_judge(other_model, embedder) as judge:
        third = judge.judge(QUESTION, make_answer())
    assert third.requests == 3  # the model is part of the key
    assert third.faithfulness == 1.0


def test_failed_replies_are_not_cached(
    tmp_path: Path, fake_openai: FakeOpenAIServer, embedder: Embedder
) -> None:
    settings = make_settings(tmp_path, fake_openai.base_url)
    fake_openai.reply("not json")
    fake_openai.status(503)
    with build_judge(settings, embedder) as judge:
        failed = judge.judge(QUESTION, make_answer())
    assert failed.parse_failures == ("faithfulness",)
    assert failed.llm_failures == ("answer_relevance",)

    script_all(fake_openai, [1, 1, 1], ON_TOPIC)
    with build_judge(settings, embedder) as judge:
        retried = judge.judge(QUESTION, make_answer())
    assert retried.requests == 3 and retried.cached == 0
    assert retried.faithfulness == 1.0 and retried.answer_relevance is not None


# --- answer relevance ---------------------------------------------------------------------


def test_relevance_is_higher_for_on_topic_generated_questions(
    tmp_path: Path, fake_openai: FakeOpenAIServer, embedder: Embedder
) -> None:
    settings = make_settings(tmp_path, fake_openai.base_url)
    results: list[JudgeResult] = []
    for questions in (ON_TOPIC, OFF_TOPIC):
        script_all(fake_openai, [1, 1, 1], questions)
        with build_judge(settings, embedder, use_cache=False) as judge:
            results.append(judge.judge(QUESTION, make_answer()))
    on, off = (r.answer_relevance for r in results)
    assert on is not None and off is not None
    assert on > 0.7
    assert on > off + 0.4
    assert results[0].generated_questions == tuple(ON_TOPIC)
    assert results[0].noncommittal is False


def test_only_n_questions_are_used(
    tmp_path: Path, fake_openai: FakeOpenAIServer, embedder: Embedder
) -> None:
    settings = make_settings(tmp_path, fake_openai.base_url, judge_questions=2)
    script_all(fake_openai, [1, 1, 1], [*ON_TOPIC[:2], *OFF_TOPIC])
    with build_judge(settings, embedder, use_cache=False) as judge:
        result = judge.judge(QUESTION, make_answer())
    assert result.generated_questions == tuple(ON_TOPIC[:2])
    assert "Write 2 different questions" in json.dumps(fake_openai.chat_requests[2].messages)


def test_a_noncommittal_answer_scores_zero_relevance(
    tmp_path: Path, fake_openai: FakeOpenAIServer, embedder: Embedder
) -> None:
    fake_openai.reply(claims_reply(["It depends on many things."]))
    fake_openai.reply(verdicts_reply([0], ["It depends on many things."]))
    fake_openai.reply(questions_reply([QUESTION], noncommittal=1))
    with build_judge(make_settings(tmp_path, fake_openai.base_url), embedder) as judge:
        result = judge.judge(QUESTION, make_answer("It depends on many things [1]."))
    assert result.answer_relevance == 0.0  # 0, not None, although the question matches
    assert result.noncommittal is True
    assert result.faithfulness == 0.0


def test_a_refused_answer_claims_nothing_and_asks_nothing(
    tmp_path: Path, fake_openai: FakeOpenAIServer, embedder: Embedder
) -> None:
    with build_judge(make_settings(tmp_path, fake_openai.base_url), embedder) as judge:
        result = judge.judge(
            QUESTION, make_answer("The documents do not answer this.", refused=True)
        )
    assert result.faithfulness is None
    assert result.answer_relevance == 0.0  # RAGAS: noncommittal
    assert result.requests == 0 and fake_openai.requests == []
    json.dumps(result.to_json())


def test_the_result_serialises_to_json(
    tmp_path: Path, fake_openai: FakeOpenAIServer, embedder: Embedder
) -> None:
    script_all(fake_openai, [1, 0, 1], ON_TOPIC)
    with build_judge(make_settings(tmp_path, fake_openai.base_url), embedder) as judge:
        result = judge.judge(QUESTION, make_answer())
    data = json.loads(json.dumps(result.to_json()))
    assert data["claims"][1] == {"claim": CLAIMS[1], "verdict": 0, "reason": "Not in the passages."}
    assert data["generated_questions"] == ON_TOPIC
    assert data["requests"] == 3 and data["errors"] == []
    assert result.scores == {
        "faithfulness": result.faithfulness,
        "answer_relevance": result.answer_relevance,
    }


# --- configuration ------------------------------------------------------------------------


def test_no_judge_endpoint_or_model_is_a_config_error(tmp_path: Path, embedder: Embedder) -> None:
    with pytest.raises(ConfigError) as info:
        build_judge(make_settings(tmp_path, None, judge_model=None), embedder)
    message = str(info.value)
    assert "--judge" in message and "RAG_JUDGE_BASE_URL" in message
    assert "RAG_JUDGE_MODEL" in message and "\n" not in message
    with pytest.raises(ConfigError, match="RAG_JUDGE_MODEL"):
        build_judge(make_settings(tmp_path, "http://127.0.0.1:1/v1", judge_model=None), embedder)
    with pytest.raises(ConfigError, match="RAG_JUDGE_BASE_URL must be an http"):
        build_judge(make_settings(tmp_path, "localhost:8080"), embedder)


def test_the_judge_falls_back_to_the_llm_settings(
    tmp_path: Path, fake_openai: FakeOpenAIServer, embedder: Embedder
) -> None:
    settings = make_settings(
        tmp_path,
        None,
        judge_model=None,
        llm_base_url=fake_openai.base_url,
        llm_model="answer-model",
        llm_api_key=SecretStr("llm-key"),
    )
    script_all(fake_openai, [1, 1, 1], ON_TOPIC)
    with build_judge(settings, embedder) as judge:
        assert judge.model == "answer-model"
        judge.judge(QUESTION, make_answer())
    request = fake_openai.chat_requests[0]
    assert request.model == "answer-model"
    assert request.headers["authorization"] == "Bearer llm-key"


def test_the_judge_key_is_sent_when_set(
    tmp_path: Path, fake_openai: FakeOpenAIServer, embedder: Embedder
) -> None:
    settings = make_settings(
        tmp_path,
        fake_openai.base_url,
        llm_api_key=SecretStr("llm-key"),
        judge_api_key=SecretStr("judge-key"),
    )
    script_all(fake_openai, [1, 1, 1], ON_TOPIC)
    with build_judge(settings, embedder) as judge:
        judge.judge(QUESTION, make_answer())
    assert fake_openai.chat_requests[0].headers["authorization"] == "Bearer judge-key"


def test_the_cache_may_not_live_in_the_index(tmp_path: Path, embedder: Embedder) -> None:
    settings = make_settings(
        tmp_path, "http://127.0.0.1:1/v1", judge_cache=tmp_path / "index" / "judge.sqlite"
    )
    with pytest.raises(ConfigError, match="inside the index folder"):
        build_judge(settings, embedder)


def test_the_default_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.judge_base_url is None and settings.judge_model is None
    assert settings.judge_api_key is None
    assert settings.judge_cache == Path("eval/.judge-cache.sqlite")
    assert settings.judge_questions == 3
    monkeypatch.setenv("RAG_JUDGE_MODEL", "env-judge")
    monkeypatch.setenv("RAG_JUDGE_CACHE", "/tmp/elsewhere.sqlite")
    from_env = Settings(_env_file=None)  # type: ignore[call-arg]
    assert from_env.judge_model == "env-judge"
    assert from_env.judge_cache == Path("/tmp/elsewhere.sqlite")


def test_a_judge_needs_at_least_one_question(tmp_path: Path, embedder: Embedder) -> None:
    from fakes import QueuedLLM

    with pytest.raises(ConfigError, match="RAG_JUDGE_QUESTIONS"):
        Judge(QueuedLLM(), embedder, Settings(_env_file=None).prompts_dir, n_questions=0)  # type: ignore[call-arg]
