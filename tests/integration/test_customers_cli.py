"""`beacon customers show`: a customer's summary as GET /customers/summary answers it, after the real write path
(API handler, moto's charges table and its stream, the stream handler)."""

import json

import pytest

from functions.get_summary.app import lambda_handler as summary_handler
from ops.main import main
from tests.builders import call, http_event
from tests.conftest import SECRET_KEY
from tests.integration.test_stream_pipeline import Pipeline, post_charge


@pytest.fixture
def customers(tables):
    """user_42 (two charges, one visit) and grace@example.com (one charge, by e-mail only), summarized."""
    pipeline = Pipeline(tables)
    post_charge({"user_id": "user_42", "email": "ada@example.com", "amount": 4999, "created_at": 1_764_057_600})
    post_charge({"user_id": "user_42", "amount": 1500, "created_at": 1_764_057_900, "update_session": False})
    post_charge({"email": "Grace@Example.com", "amount": 250, "created_at": 1_735_689_600})
    assert all(r == {"batchItemFailures": []} for r in pipeline.deliver(pipeline.new_records()))
    return tables


def shown(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(["customers", "show", "--project", "local", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def api_answer(query: dict[str, str]) -> dict:
    headers = {"authorization": f"Bearer {SECRET_KEY}"}
    answer = call(summary_handler, http_event("get_summary.json", headers=headers, query=query))
    assert answer.status == 200, answer.body
    return answer.body["data"]


@pytest.mark.parametrize(
    ("argv", "query"),
    [
        (["--user-id", "user_42"], {"user_id": "user_42"}),
        (["--email", "  GRACE@example.com "], {"email": "grace@example.com"}),
    ],
)
def test_show_prints_the_summary_the_api_answers(customers, capsys, argv, query):
    status, out, err = shown(capsys, *argv)

    assert (status, err) == (0, "")
    [line] = out.splitlines()
    assert json.loads(line) == api_answer(query)


def test_show_prints_every_field_of_the_summary(customers, capsys):
    _, out, _ = shown(capsys, "--user-id", "user_42")

    summary = json.loads(out)
    assert (summary["user_id"], summary["email"]) == ("user_42", "ada@example.com")
    assert summary["charges"] == {
        "count": 2,
        "total": 6499,
        "first_at": 1764057600,
        "last_at": 1764057900,
        "last_amount": 1500,
    }
    assert set(summary["sessions"]) == {"count", "first_seen_at", "last_seen_at"}
    assert summary["sessions"]["count"] == 1  # the second charge did not count as a visit


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--user-id", "nobody"], "user_id 'nobody'"),
        (["--email", "nobody@example.com"], "email 'nobody@example.com'"),
    ],
)
def test_a_customer_the_project_does_not_have_is_exit_1_saying_so(customers, capsys, argv, named):
    status, out, err = shown(capsys, *argv)

    assert (status, out) == (1, "")
    assert err == f"error: project local has no customer with {named} (or none of its charges is summarized yet)\n"


def test_a_customer_of_another_project_is_not_shown(customers, capsys):
    status = main(["customers", "show", "--project", "globex", "--user-id", "user_42"])

    assert status == 1
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "one of the arguments --user-id --email is required"),
        (["--user-id", "u", "--email", "a@example.com"], "not allowed with argument"),
        (["--user-id", " "], "user_id must not be empty or blank"),
        (["--email", "not-an-address"], "email is not a valid e-mail address"),
    ],
)
def test_a_customer_named_wrongly_is_a_usage_error(tables, capsys, argv, message):
    with pytest.raises(SystemExit) as exited:
        main(["customers", "show", "--project", "local", *argv])

    assert exited.value.code == 2
    assert message in capsys.readouterr().err


# ---------------------------------------------------------------- customers list


def listed(capsys, *argv: str) -> tuple[int, list[dict]]:
    status = main(["customers", "list", "--project", "local", *argv])
    return status, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_the_project_s_customers_are_listed_each_once_and_no_other_project_s(customers, capsys):
    # (a customer of another project, summarized too)
    pipeline = Pipeline(customers)
    post_charge({"user_id": "elsewhere", "amount": 1}, key="sk_other_project_key")
    assert all(r == {"batchItemFailures": []} for r in pipeline.deliver(pipeline.new_records()))

    status, lines = listed(capsys)

    assert status == 0
    assert sorted(lines, key=json.dumps) == [{"email": "grace@example.com"}, {"user_id": "user_42"}]


def test_a_long_list_is_read_a_page_at_a_time_and_resumed_where_it_stopped(tables, capsys):
    # Given 25 customers summarized
    pipeline = Pipeline(tables)
    for n in range(25):
        post_charge({"user_id": f"customer-{n:02d}", "amount": 1})
    assert all(r == {"batchItemFailures": []} for r in pipeline.deliver(pipeline.new_records()))

    # When they are listed ten at a time, each time from where the last stopped
    seen: list[dict] = []
    after: list[str] = []
    while True:
        status, lines = listed(capsys, "--limit", "10", *after)
        assert status == 0
        seen += [line for line in lines if "next" not in line]
        if "next" not in lines[-1]:
            break
        after = lines[-1]["next"].split()
        assert len(lines) == 11

    # Then every customer came once
    assert sorted(line["user_id"] for line in seen) == [f"customer-{n:02d}" for n in range(25)]


def test_a_point_to_go_on_from_that_list_did_not_print_is_a_usage_error(tables, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["customers", "list", "--project", "local", "--after", "not-a-point"])
    assert exited.value.code == 2
    assert "--after" in capsys.readouterr().err
