#!/usr/bin/env python3
"""Encodes and decodes Tradewire messages with Python's protobuf package, for ProtoCodecTests.

    codec_interop.py PROTO_DIR encode          one JSON line per case: {"case", "hex"} (deterministic encoding)
    codec_interop.py PROTO_DIR decode < lines  for each {"case", "hex"} read: decodes it, compares it with the
                                               case's message, prints {"case", "equal", "hex"} (re-encoded)
    codec_interop.py PROTO_DIR json            one JSON line per case: {"case", "json"} (proto3 JSON mapping)
    codec_interop.py PROTO_DIR from-json < lines
                                               for each {"case", "json"} read: parses it as the case's message
                                               type, prints {"case", "equal"}

The cases here and in PythonInteropTests.swift build the same messages field by field.
"""
import importlib.util
import json
import os
import sys
import tempfile

from google.protobuf import json_format
from grpc_tools import protoc


def compile_protos(proto_dir):
    out = tempfile.mkdtemp(prefix="tradewire-py-")
    files = [
        "google/api/http.proto", "google/api/annotations.proto",
        "tradewire/v1/common.proto", "tradewire/v1/order.proto", "tradewire/v1/risk.proto", "tradewire/v1/gateway.proto",
        "google/rpc/status.proto", "google/rpc/error_details.proto", "grpc/testing/messages.proto",
        "grpc/health/v1/health.proto", "tradewire/testing/v1/fields.proto",
    ]
    # grpcio-tools' own copy of descriptor.proto, which google/api/annotations.proto imports.
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    if protoc.main(["protoc", "-I" + proto_dir, "-I" + include, "--python_out=" + out] + files) != 0:
        sys.exit("protoc failed")
    sys.path.insert(0, out)
    return out


def load(out, path, name):
    """Loads a generated module by path: grpcio's own `grpc` package shadows our grpc/ output directory."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(out, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cases(out):
    from tradewire.v1 import common_pb2 as c, order_pb2 as o, gateway_pb2 as g
    from google.rpc import status_pb2, error_details_pb2
    messages_pb2 = load(out, "grpc/testing/messages_pb2.py", "interop_messages_pb2")
    health_pb2 = load(out, "grpc/health/v1/health_pb2.py", "interop_health_pb2")
    from tradewire.testing.v1 import fields_pb2 as f

    order = o.Order(
        order_id=c.OrderId(value="ord-7f3a9c"), account="ACME-01", client_order_id="cl-0001", symbol="ACME",
        side=c.SIDE_SELL, type=c.ORDER_TYPE_LIMIT, time_in_force=c.TIME_IN_FORCE_IOC,
        price=c.Price(units=1012500, scale=4), quantity=c.Quantity(units=300, scale=0),
        status=c.ORDER_STATUS_PARTIALLY_FILLED, filled_quantity=c.Quantity(units=100),
        leaves_quantity=c.Quantity(units=200), filled_notional=c.Money(units=101250000, scale=4, currency="USD"),
        average_price="101.2500", created_at_unix_nanos=1_790_000_000_123_456_789,
        updated_at_unix_nanos=1_790_000_000_223_456_789, version=3, batch_id="batch-ü")
    new_orders = [
        o.NewOrder(client_order_id="c%d" % i, symbol="SYM%d" % i, side=c.SIDE_BUY, type=c.ORDER_TYPE_LIMIT,
                   time_in_force=c.TIME_IN_FORCE_GTC, price=c.Price(units=100 + i, scale=2),
                   quantity=c.Quantity(units=10 * (i + 1)))
        for i in range(3)
    ]
    bad_request = error_details_pb2.BadRequest(field_violations=[
        error_details_pb2.BadRequest.FieldViolation(field="order.price", description="not on the tick grid"),
        error_details_pb2.BadRequest.FieldViolation(field="order.quantity", description="below the minimum"),
    ])
    status = status_pb2.Status(code=3, message="invalid order ☺")
    status.details.add().Pack(bad_request)

    all_kinds = f.AllKinds(
        f_double=-1.5e300, f_float=3.25, f_int32=-2**31, f_int64=-2**63, f_uint32=2**32 - 1, f_uint64=2**64 - 1,
        f_sint32=-123456, f_sint64=-2**63, f_fixed32=2**32 - 1, f_fixed64=2**64 - 1, f_sfixed32=-2**31,
        f_sfixed64=-1, f_bool=True, f_string="Grüße, 世界 😈", f_bytes=b"\x00\xff\x80\x7f", f_enum=f.COLOR_NEGATIVE,
        f_message=f.Leaf(name="leaf", value=-7),
        r_double=[1.5, -2.25, float("inf")], r_float=[1, -2, float("inf")], r_int32=[7, -1, 2**31 - 1, -2**31],
        r_int64=[2**63 - 1, -2**63, 5], r_uint32=[3, 1, 2**32 - 1], r_uint64=[2**64 - 1, 9], r_sint32=[-2**31, 2**31 - 1, -1, 6],
        r_sint64=[-2**63, 2**63 - 1, -1], r_fixed32=[1, 2**32 - 1], r_fixed64=[2**64 - 1, 2],
        r_sfixed32=[-2**31, -1], r_sfixed64=[-2**63, 2**63 - 1], r_bool=[True, False, True],
        r_string=["", "a", "ü", "x" * 300], r_bytes=[b"", b"\x01", b"\x00\x00\x00"],
        r_enum=[f.COLOR_RED, f.COLOR_NEGATIVE, f.COLOR_UNSPECIFIED, 1000],
        r_message=[f.Leaf(), f.Leaf(name="b", value=2)],
        m_string_string={"k1": "v1", "ключ": "значение", "a": "b"},
        m_int32_leaf={-1: f.Leaf(name="neg"), 7: f.Leaf(value=7)},
        m_int64_int64={-2**63: 2**63 - 1, 5: 6}, m_bool_color={True: f.COLOR_GREEN},
        m_uint32_bytes={2**32 - 1: b"\x09\x09"},
        nested=f.AllKinds.Nested(level=f.AllKinds.Nested.LEVEL_HIGH,
                                 deeper=[f.AllKinds.Nested.Deeper(note="one"), f.AllKinds.Nested.Deeper()]),
        o_message=f.Leaf(name="in oneof"))
    return {
        "order": order,
        "place_orders": g.PlaceOrdersRequest(batch_id="b-42", orders=new_orders),
        "order_entry_cancel": g.OrderEntryRequest(
            correlation_id="corr-9", cancel=g.CancelOrderRequest(order=g.OrderRef(client_order_id="cl-0001"))),
        "status_bad_request": status,
        "error_info": error_details_pb2.ErrorInfo(
            reason="RISK_MAX_ORDER_QUANTITY", domain="tradewire.io", metadata={"limit": "1000", "asked": "1500"}),
        "simple_request": messages_pb2.SimpleRequest(
            response_size=314159, payload=messages_pb2.Payload(body=bytes(271828)), fill_username=True,
            response_status=messages_pb2.EchoStatus(code=2, message="\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n")),
        "health": health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.NOT_SERVING),
        "all_kinds": all_kinds,
        "oneof_empty_string": f.AllKinds(o_string=""),
        "evolved_v2": f.EvolvedV2(name="n", id=42, note="added later", small=0xdeadbeef, large=2**64 - 1,
                                  leaf=f.Leaf(name="l", value=1), numbers=[1, -1, 300], delta=-99),
    }


def main():
    proto_dir, mode = sys.argv[1], sys.argv[2]
    table = cases(compile_protos(proto_dir))
    if mode == "encode":
        for name, message in table.items():
            print(json.dumps({"case": name, "hex": message.SerializeToString(deterministic=True).hex()}))
    elif mode == "decode":
        for line in sys.stdin:
            request = json.loads(line)
            expected = table[request["case"]]
            decoded = type(expected)()
            decoded.ParseFromString(bytes.fromhex(request["hex"]))
            print(json.dumps({"case": request["case"], "equal": decoded == expected,
                              "hex": decoded.SerializeToString(deterministic=True).hex()}))
    elif mode == "json":
        for name, message in table.items():
            print(json.dumps({"case": name, "json": json_format.MessageToJson(message)}))
    elif mode == "from-json":
        for line in sys.stdin:
            request = json.loads(line)
            expected = table[request["case"]]
            parsed = json_format.Parse(request["json"], type(expected)())
            print(json.dumps({"case": request["case"], "equal": parsed == expected}))
    else:
        sys.exit("mode must be encode, decode, json or from-json")


if __name__ == "__main__":
    main()
