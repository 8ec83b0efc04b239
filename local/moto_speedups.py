"""Speed patches of moto (5.2) for the local stack: the same answers, sooner. ``LOCAL_MOTO_SPEEDUPS=0`` leaves them out.

``local.moto_fixes.apply()`` installs them after its correctness fixes; none of them changes what moto
answers (``tests/tooling/test_local_moto_fixes.py`` compares each with moto's own), so the suite passes with
or without them. They rely on the embedded server serving one call at a time (``local.aws``).

- **JSON in and out.** moto reads every JSON request through a generic, model-driven parser (after
  rebuilding it as a werkzeug request) and writes every answer through a generic serializer that looks
  each value up under several candidate names, with ``inspect.getmembers`` of the handler class on every
  call: a PutItem costs milliseconds of CPU. For DynamoDB and DynamoDB Streams, whose wire format is plain
  JSON, the request body is read with ``json.loads`` and a successful answer written with ``json.dumps``
  (dates as epoch seconds to the millisecond, bytes as base64, as the JSON protocol has them); errors, and
  any answer holding something else, still go through moto's serializer. The handler class's method names
  are listed once per class.
- **Condition expressions** are tokenized once per distinct text (the tokens are immutable tuples).
- **Query** finds a table query's items by sorting every item of the table (``Table.all_items``) and keeping
  those of the partition asked for: a cost proportional to the whole table. The patch hands that step the
  partition's own items (the sort that follows, by sort key, is moto's); index queries keep moto's way.
- **Items** are built attribute by attribute, with DynamoDB's 400 KB limit checked at each one by summing
  the sizes of all the attributes already there: quadratic in the attributes (a summary has about twenty,
  some nested). The patch sizes the finished item once, with the same limit and the same error, which is
  what the checks along the way add up to (sizes only grow).
"""

import base64
import calendar
import functools
import json
from collections import deque
from datetime import UTC, datetime
from typing import Any

from moto.core import responses as moto_responses
from moto.core.responses import ActionResult, BaseResponse
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.table import Table
from moto.dynamodb.models.utilities import bytesize
from moto.dynamodb.responses import DynamoResult

from local.moto_fixes import Patches

# moto's own bound (dynamo_type.LimitedSizeDict): DynamoDB's 400 KB, measured to lie between 409 and 410 KB
MOTO_ITEM_SIZE_LIMIT = 405_000
_JSON_SERVICES = frozenset({"dynamodb", "dynamodbstreams"})
_PLAIN_RESULTS: tuple[type, ...] = (ActionResult, DynamoResult)

_moto_parse_parameters = BaseResponse.parse_parameters
_moto_serialized = BaseResponse.serialized
_moto_method_names = moto_responses.method_names_from_class
_moto_lex = ConditionExpressionParser._lex_condition_expression
_moto_query = Table.query
_lexed: dict[str, tuple[Any, ...]] = {}


def _parse_parameters(self: BaseResponse, request: Any) -> None:
    if self.service_name in _JSON_SERVICES and isinstance(self.body, str):
        params = json.loads(self.body or "{}")
        self.params = binaries_as_bytes(params) if '"B' in self.body else params
        return
    _moto_parse_parameters(self, request)


def binaries_as_bytes(value: Any) -> Any:
    """DynamoDB parameters as sent (binaries in base64) with their binaries as bytes, as moto's own parser and
    boto3's client methods take them (and moto sizes them: by their bytes)."""
    if isinstance(value, dict):
        if len(value) == 1:
            if isinstance(value.get("B"), str):
                return {"B": base64.b64decode(value["B"])}
            if isinstance(value.get("BS"), list):
                return {"BS": [base64.b64decode(item) for item in value["BS"]]}
        return {key: binaries_as_bytes(item) for key, item in value.items()}
    if isinstance(value, list):
        return [binaries_as_bytes(item) for item in value]
    return value


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        # As moto's serializer: epoch seconds, truncated to the millisecond (naive times are UTC).
        seconds = calendar.timegm((value if value.tzinfo is None else value.astimezone(UTC)).timetuple())
        return seconds + (value.microsecond // 1000) / 1000.0 if value.microsecond else seconds
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(type(value).__name__)


def _serialized(self: BaseResponse, action_result: ActionResult) -> Any:
    result = action_result.result
    if self.service_name in _JSON_SERVICES and type(action_result) in _PLAIN_RESULTS and isinstance(result, dict):
        try:
            body = json.dumps(result, default=_json_value, separators=(",", ":"))
        except TypeError:
            return _moto_serialized(self, action_result)
        headers = {"Content-Type": "application/x-amz-json-1.0", **self.response_headers}
        return 200, headers, body
    return _moto_serialized(self, action_result)


@functools.cache
def _method_names(clazz: object) -> list[str]:
    return _moto_method_names(clazz)


def _lex_condition_expression(self: ConditionExpressionParser) -> Any:
    expression = self.condition_expression or ""
    tokens = _lexed.get(expression)
    if tokens is None:
        tokens = _lexed[expression] = tuple(_moto_lex(self))
    return deque(tokens)


def _query(self: Table, hash_key: DynamoType | None, *args: Any, **kwargs: Any) -> Any:
    # Table.query(hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward,
    # projection_expressions, index_name, ...): the index name is the 8th argument, or a keyword.
    index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
    if index_name or hash_key is None:
        return _moto_query(self, hash_key, *args, **kwargs)
    partition: Any = self.items.get(hash_key)  # a defaultdict: a plain [] would add the key
    if partition is None:
        candidates = []
    elif self.range_key_attr:
        candidates = list(partition.values())
    else:
        candidates = [partition]
    # moto filters ``self.all_items()`` by partition key: an attribute of the instance answers it for this call
    # (under the backend's one-call-at-a-time lock, nothing else uses the table meanwhile).
    self.all_items = lambda: candidates  # type: ignore[method-assign]
    try:
        return _moto_query(self, hash_key, *args, **kwargs)
    finally:
        del self.all_items


def _item_init(self: Item, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]) -> None:
    """moto's ``Item.__init__`` with one size check of the whole item instead of one per attribute."""
    self.hash_key = hash_key
    self.range_key = range_key
    values = {key: DynamoType(value) for key, value in attrs.items()}
    if sum(bytesize(key) + value.size() for key, value in values.items()) > MOTO_ITEM_SIZE_LIMIT:
        raise ItemSizeTooLarge
    self.attrs = LimitedSizeDict()
    dict.update(self.attrs, values)  # the later SETs of an update still go through LimitedSizeDict's check


PATCHES = Patches(
    (BaseResponse, "parse_parameters", _parse_parameters),
    (BaseResponse, "serialized", _serialized),
    (moto_responses, "method_names_from_class", _method_names),
    (ConditionExpressionParser, "_lex_condition_expression", _lex_condition_expression),
    (Table, "query", _query),
    (Item, "__init__", _item_init),
)
