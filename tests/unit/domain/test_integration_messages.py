"""Reading the platform's messages and filling its answers (SPEC §12, EDUCORE.md §2.2, §3)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from learning_analytics.application.integration import Signature, achievement_name, admission
from learning_analytics.domain.integration import (
    Activity,
    EmployeeProgress,
    InboundMessage,
    MalformedMessageError,
    PlatformStatistics,
    Request,
    WireForm,
    classify,
    content_formats,
    count_levels,
    course_feedback,
    employee_dashboard,
    fill_statistics_template,
    parse_message,
    service_key,
)
from learning_analytics.domain.records import Enrollment

KEYS = [
    "requester_service", "payload", "response", "serviceName", "course_id", "feedback",
    "feedbacks", "learner_id", "rating", "submitted_at", "action",
]  # fmt: skip
ENVELOPE = {"requester_service": "directory-service", "payload": {"a": 1}, "response": {"x": ""}}
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def test_envelope_object() -> None:
    message = parse_message(JSON, json.dumps(ENVELOPE).encode())
    assert message == InboundMessage(
        "directory-service", {"a": 1}, {"x": ""}, WireForm.ENVELOPE, envelope=ENVELOPE
    )


def test_envelope_sent_as_a_json_string_with_a_text_content_type() -> None:
    body = json.dumps(json.dumps(ENVELOPE)).encode()
    message = parse_message("text/plain; charset=utf-8", body)
    assert message.form is WireForm.STRING_BODY
    assert message.payload == {"a": 1}


def test_form_fields_with_payload_as_json_string() -> None:
    body = urlencode({"serviceName": "LearningAnalytics", "payload": '{"course_id": "c"}'})
    message = parse_message(FORM, body.encode())
    assert message == InboundMessage("LearningAnalytics", {"course_id": "c"}, {}, WireForm.FORM)


def test_legacy_json_with_payload_string_and_missing_response() -> None:
    body = json.dumps({"serviceName": "learnerAI", "payload": '{"k": [1]}'}).encode()
    message = parse_message(None, body)
    assert (message.form, message.payload, message.response) == (
        WireForm.LEGACY_JSON,
        {"k": [1]},
        {},
    )


def test_payload_and_response_given_as_json_strings_are_read() -> None:
    body = json.dumps({"requester_service": "x", "payload": '{"p": 1}', "response": ""}).encode()
    message = parse_message(JSON, body)
    assert (message.payload, message.response) == ({"p": 1}, {})


@pytest.mark.parametrize(
    ("content_type", "body", "reason"),
    [
        (JSON, b"", "empty"),
        (JSON, b"{not json", "not valid JSON"),
        (JSON, b"[1, 2]", "must be a JSON object"),
        (JSON, b'"just a string"', "not valid JSON"),
        (JSON, b'{"payload": {}}', "no requester_service"),
        (JSON, b'{"requester_service": "", "payload": {}}', "non-empty"),
        (JSON, b'{"requester_service": 7, "payload": {}}', "non-empty"),
        (JSON, json.dumps({"requester_service": "x" * 101}).encode(), "longer than"),
        (JSON, b'{"requester_service": "x", "payload": [1]}', "payload must be"),
        (JSON, b'{"requester_service": "x", "payload": "{bad"}', "payload is not valid"),
        (JSON, b'{"requester_service": "x", "response": 5}', "response must be"),
        (JSON, b"\xff\xfe", "not UTF-8"),
        (JSON, b"[" * 100_000, "not valid JSON"),
        (FORM, b"serviceName=x", "no payload"),
        (FORM, b"serviceName=x&payload=%5B%5D", "payload must be"),
        (FORM, b"payload=%7B%7D", "serviceName must be"),
        (FORM, b"&".join(b"f%d=1" % i for i in range(50)), "too many fields"),
    ],
)
def test_malformed_bodies_are_refused_with_a_reason(
    content_type: str, body: bytes, reason: str
) -> None:
    with pytest.raises(MalformedMessageError, match=reason):
        parse_message(content_type, body)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("directory-service", "directory"),
        ("Directory_Service", "directory"),
        ("ManagementReporting", "managementreporting"),
        ("managementreporting-service", "managementreporting"),
        ("course_builder", "coursebuilder"),
        ("course-builder-service", "coursebuilder"),
        ("service", "service"),
    ],
)
def test_requester_names_are_compared_without_case_separators_or_service(
    name: str, key: str
) -> None:
    assert service_key(name) == key


@pytest.mark.parametrize(
    ("requester", "payload", "kind"),
    [
        ("LearningAnalytics", {"course_id": "c", "action": "send_course_analytics"},
         Request.COURSE_ANALYTICS),
        ("course_builder", {"course_id": "c"}, Request.COURSE_ANALYTICS),
        ("course_builder", {"course_id": "c", "action": "delete_everything"}, Request.UNKNOWN),
        ("directory-service", {"action": "fetch_learning_progress_for_employee_dashboard"},
         Request.EMPLOYEE_DASHBOARD),
        ("DIRECTORY", {"action": "FETCH_LEARNING_PROGRESS_FOR_EMPLOYEE_DASHBOARD"},
         Request.EMPLOYEE_DASHBOARD),
        ("directory-service", {"action": "something else"}, Request.UNKNOWN),
        ("ManagementReporting", {"action": "Collecting interesting Analytics"},
         Request.PLATFORM_STATISTICS),
        ("skills-engine", {"action": "Send user profile data"}, Request.UNKNOWN),
    ],
)  # fmt: skip
def test_classify(requester: str, payload: dict[str, object], kind: Request) -> None:
    assert classify(InboundMessage(requester, payload, {}, WireForm.ENVELOPE)) is kind


def test_course_feedback_keeps_each_learners_latest_and_counts_unreadable_entries() -> None:
    feedback = course_feedback(
        {
            "course_id": "c-9",
            "feedback": {
                "feedbacks": [
                    {"learner_id": "u1", "rating": 3, "submitted_at": "2025-12-01T10:00:00Z"},
                    {"learner_id": "u1", "rating": 5, "submitted_at": "2025-12-02T10:00:00.5Z"},
                    {"learner_id": "u2", "rating": 4.0, "submitted_at": "2025-12-01T10:00:00"},
                    {"learner_id": "u3", "rating": 6, "submitted_at": "2025-12-01T10:00:00Z"},
                    {"learner_id": "u4", "rating": 4, "submitted_at": "yesterday"},
                    {"learner_id": "", "rating": 4, "submitted_at": "2025-12-01T10:00:00Z"},
                    {"learner_id": "u5", "rating": True, "submitted_at": "2025-12-01T10:00:00Z"},
                    "not an object",
                ]
            },
        }
    )
    assert feedback.course_id == "c-9"
    assert feedback.rejected == 5
    assert sorted(feedback.entries) == [
        ("u1", 5, datetime(2025, 12, 2, 10, 0, 0, 500000, tzinfo=UTC)),
        ("u2", 4, datetime(2025, 12, 1, 10, tzinfo=UTC)),
    ]


def test_course_feedback_needs_a_course_id_and_a_list() -> None:
    with pytest.raises(MalformedMessageError, match="course_id"):
        course_feedback({"course_id": None})
    with pytest.raises(MalformedMessageError, match="feedbacks must be a list"):
        course_feedback({"course_id": "c", "feedback": {"feedbacks": "many"}})


ALLOW = frozenset({"learninganalytics", "coursebuilder"})
DASHBOARD = Request.EMPLOYEE_DASHBOARD
PUSH = Request.COURSE_ANALYTICS


@pytest.mark.parametrize(
    ("kind", "requester", "signature", "key", "production", "verified", "refused"),
    [
        (DASHBOARD, "directory", Signature.VALID, True, True, True, False),
        (DASHBOARD, "directory", Signature.INVALID, True, False, False, True),
        (DASHBOARD, "directory", Signature.ABSENT, True, False, False, True),
        (DASHBOARD, "directory", Signature.ABSENT, False, True, False, True),
        (DASHBOARD, "directory", Signature.ABSENT, False, False, False, False),
        (DASHBOARD, "directory", Signature.UNCHECKED, False, False, False, False),
        (Request.PLATFORM_STATISTICS, "mr", Signature.ABSENT, True, False, False, True),
        (PUSH, "LearningAnalytics", Signature.ABSENT, True, True, False, False),
        (PUSH, "course-builder-service", Signature.ABSENT, True, True, False, False),
        (PUSH, "LearningAnalytics", Signature.INVALID, True, True, False, True),
        (PUSH, "LearningAnalytics", Signature.VALID, True, True, True, False),
    ],
)  # fmt: skip
def test_admission(
    kind: Request,
    requester: str,
    signature: Signature,
    key: bool,
    production: bool,
    verified: bool,
    refused: bool,
) -> None:
    decision = admission(
        kind,
        requester,
        signature=signature,
        key_configured=key,
        production=production,
        unsigned_allowlist=ALLOW,
    )
    assert decision.verified is verified
    assert (decision.refusal is not None) is refused


def test_unsigned_push_from_outside_the_allow_list_is_refused_when_a_key_is_set() -> None:
    decision = admission(
        Request.COURSE_ANALYTICS,
        "mallory",
        signature=Signature.ABSENT,
        key_configured=True,
        production=False,
        unsigned_allowlist=ALLOW,
    )
    assert decision.refusal is not None


def _at(day: int, hour: int = 12) -> datetime:
    return datetime(2025, 12, day, hour, tzinfo=UTC)


def test_employee_dashboard_known_answer() -> None:
    enrollments = [
        Enrollment("e1", "u", "c1", _at(1), completed_at=_at(5)),
        Enrollment("e2", "u", "c2", _at(1)),
        Enrollment("e3", "u", "c3", _at(1)),
        Enrollment("e4", "u", "c4", _at(1), withdrawn_at=_at(2)),
    ]
    progress = EmployeeProgress(
        enrollments=enrollments,
        course_titles={"c1": "One", "c2": "Two", "c3": "Three"},
        course_due={"e2": _at(20), "e3": _at(3), "e4": _at(25)},
        skills_at_target=["python"],
        exam_scores=[80.0, 91.0],
        seconds_spent=5400,
        active_days_30=6,
        recent=[Activity(_at(4), "older", "lesson"), Activity(_at(6), "newer", "assessment")],
        achievements=[("First course", _at(5))],
    )
    filled = employee_dashboard(progress, today=date(2025, 12, 10))
    # 4 enrollments, one withdrawn: 3 live, 1 completed → 33.3 %; exams (80 + 91) / 2 = 85.5;
    # 5400 s = 1.5 h; e3 was due on the 3rd (past) and e4 is withdrawn: one deadline left.
    assert filled["progress_summary"] == {
        "courses_enrolled": 3,
        "courses_in_progress": 2,
        "courses_completed": 1,
        "completion_rate": 33.3,
        "skills_acquired": 1,
        "average_exam_grade": 85.5,
        "exams_taken": 2,
        "learning_hours": 1.5,
        "active_days_last_30": 6,
    }
    assert [a["description"] for a in filled["recent_activity"]] == ["newer", "older"]
    assert filled["upcoming_deadlines"] == [
        {
            "title": "Two",
            "course_name": "Two",
            "course_id": "c2",
            "due_date": "2025-12-20",
            "progress_pct": 0.0,
        }
    ]
    assert filled["achievements"] == [
        {
            "name": "First course",
            "title": "Achievement earned",
            "earned_at": "2025-12-05T12:00:00Z",
        },
        {"name": "python - acquired", "title": "Skill acquired"},
    ]


def test_employee_dashboard_without_any_data_reports_nothing_invented() -> None:
    empty = EmployeeProgress([], {}, {}, [], [], 0, 0, [])
    summary = employee_dashboard(empty, today=date(2025, 12, 10))["progress_summary"]
    assert summary["completion_rate"] is None
    assert summary["average_exam_grade"] is None


STATS = PlatformStatistics(
    window_start=_at(1, 0),
    window_end=_at(31, 0),
    total_learners=10,
    active_learners=6,
    total_organizations=2,
    total_courses=4,
    total_enrollments=20,
    active_enrollments=10,
    completed_enrollments=8,
    withdrawn_enrollments=2,
    total_lessons=18,
    total_topics=6,
    total_attempts=30,
    distinct_assessments=5,
    attempt_pairs=20,
    passed_attempts=21,
    average_score=74.25,
    skills_at_target=7,
    learning_paths=3,
    feedback_count=4,
    average_rating=4.25,
    ratings={5: 2, 4: 1, 3: 1},
    competitions=2,
    most_demanded=[("sql", 5), ("python", 2)],
    levels={0: 1, 1: 2, 2: 3, 3: 4, 5: 1},
    content_usage={"video": 9, "exercise": 4, "quiz": 7, "text": 1},
    engagement_levels={"high": 1, "medium": 2, "low": 3},
)
TEMPLATE = {
    "version": "",
    "aggregated_statistics": None,
    "period": "",
    "date_range": "",
    "start_date": "",
    "end_date": "",
    "calculated_at": "",
    "metrics": {"total_learners": None, "pass_rate": None, "skill_id": None, "custom": "kept"},
    "category_breakdowns": {
        "by_competency_level": {"beginner": None, "expert": None},
        "by_engagement_level": {"high": None},
    },
}


def test_statistics_fill_the_flat_template_and_the_nested_shape() -> None:
    now = _at(31, 4)
    filled = fill_statistics_template(TEMPLATE, STATS, now=now, version="1.0")
    nested = filled["aggregated_statistics"]
    # completion: 8 completed of 20 - 2 withdrawn = 18 → 44.4 %; pass rate 21 / 30 = 70.0 %;
    # attempts per (learner, assessment) 30 / 20 = 1.5; lessons per course 18 / 4 = 4.5.
    assert nested["metrics"]["courses"]["average_completion_rate"] == 44.4
    assert nested["metrics"]["assessments"]["pass_rate"] == 70.0
    assert nested["metrics"]["assessments"]["average_attempts_per_assessment"] == 1.5
    assert nested["metrics"]["courses"]["average_lessons_per_course"] == 4.5
    assert nested["metrics"]["learners"] == {
        "total_learners": 10,
        "active_learners": 6,
        "total_organizations": 2,
    }
    assert nested["date_range"] == {
        "start_date": "2025-12-01T00:00:00Z",
        "end_date": "2025-12-31T00:00:00Z",
    }
    # levels 0-1 beginner (1 + 2), 2 intermediate, 3-4 advanced, 5 expert.
    assert nested["category_breakdowns"]["by_competency_level"] == {
        "beginner": 3,
        "intermediate": 3,
        "advanced": 4,
        "expert": 1,
    }
    assert nested["category_breakdowns"]["by_feedback_rating"] == {
        "1": 0, "2": 0, "3": 1, "4": 1, "5": 2,
    }  # fmt: skip
    assert filled["version"] == "1.0"
    assert filled["calculated_at"] == "2025-12-31T04:00:00Z"
    assert filled["start_date"] == "2025-12-01T00:00:00Z"
    flat = filled["metrics"]
    assert flat["total_learners"] == 10
    assert flat["pass_rate"] == 70.0
    assert flat["skill_id"] == "sql"
    assert flat["custom"] == "kept"
    assert flat["most_demanded_skills"][0] == {
        "skill_id": "sql",
        "skill_name": "sql",
        "demand_count": 5,
    }
    assert flat["drop_off_rate"] == 20.0  # 2 withdrawn of 10 ended enrollments
    assert filled["category_breakdowns"]["by_competency_level"]["beginner"] == 3
    assert filled["category_breakdowns"]["by_engagement_level"] == {
        "high": 1,
        "medium": 2,
        "low": 3,
    }


def test_content_formats_and_engagement_bands() -> None:
    assert content_formats({"video": 9, "exercise": 4, "quiz": 7, "Text": 1}) == {
        "video": 9,
        "text": 1,
        "code": 4,
        "presentation": 0,
        "mindmap": 0,
    }
    assert count_levels([0, 1, 3, 4, 11, 12, 30]) == {"high": 2, "medium": 2, "low": 2}


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=5)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    content_type=st.sampled_from([JSON, FORM, "text/plain", None, "multipart/form-data"]),
    body=st.binary(max_size=200) | JSON_VALUES.map(lambda v: json.dumps(v).encode()),
)
def test_any_body_is_a_message_or_a_malformed_message_error(
    content_type: str | None, body: bytes
) -> None:
    try:
        message = parse_message(content_type, body)
    except MalformedMessageError:
        return
    kind = classify(message)
    if kind is Request.COURSE_ANALYTICS:
        try:
            course_feedback(message.payload)
        except MalformedMessageError:
            return


@settings(max_examples=300, deadline=None)
@given(payload=st.dictionaries(st.sampled_from(KEYS), JSON_VALUES, max_size=5))
def test_any_course_payload_is_read_or_refused_with_a_reason(payload: dict[str, Any]) -> None:
    try:
        feedback = course_feedback({"course_id": "c", **payload})
    except MalformedMessageError:
        return
    assert all(1 <= rating <= 5 for _, rating, _ in feedback.entries)


def test_achievements_are_named_from_the_catalogue() -> None:
    assert achievement_name("streak_7") == "Week streak"
    assert achievement_name("retired-badge") == "Retired badge"
