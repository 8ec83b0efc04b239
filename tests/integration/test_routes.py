"""The API's routes are the template's HttpApi events: the route table of api.py, and what each handler serves."""

import importlib

import pytest

from beacon.api import ROUTES
from local.sam import functions, http_routes
from local.template import ROOT, template
from tests.builders import call, http_event

TEMPLATE_ROUTES = [route for route in http_routes(functions(template())) if not route.is_default]


def handler_of(logical_id: str):
    spec = functions(template())[logical_id]
    module = ".".join(spec.module_path.relative_to(ROOT).with_suffix("").parts)
    return importlib.import_module(module).lambda_handler


def test_the_route_table_of_api_py_is_the_templates():
    declared: dict[str, list[str]] = {}
    for route in TEMPLATE_ROUTES:
        declared.setdefault(route.path, []).append(route.method)
    assert {path: sorted(methods) for path, methods in ROUTES.items()} == {
        path: sorted(methods) for path, methods in declared.items()
    }


@pytest.mark.parametrize("route", TEMPLATE_ROUTES, ids=lambda route: route.route_key)
def test_the_function_the_template_names_serves_its_route(route):
    # Given a request of the route without a key
    event = http_event("create_charge_no_key.json", method=route.method, path=route.path)
    event["routeKey"] = event["requestContext"]["routeKey"] = route.route_key

    # When the function the template sends it to handles it
    answer = call(handler_of(route.function), event)

    # Then the route was found: the key middleware refused it (not a 404 or 405 of an unknown route)
    assert answer.status == 401, f"{route.function} does not serve {route.route_key}: {answer.body}"


def test_the_default_route_answers_unknown_routes_with_the_envelope():
    [default] = [route for route in http_routes(functions(template())) if route.is_default]
    answer = call(handler_of(default.function), http_event("unknown_route.json", path="/no/such/route"))
    assert answer.status == 404
    assert answer.body["errors"][0]["field"] == "path"
