#!/usr/bin/env python3
"""A trading client on Python's grpcio (PyPI), for GatewayTests.

    gateway_client.py PROTO_DIR PORT API_KEY

Places a resting buy with PlaceOrder, sends a crossing sell on an OrderEntry stream, and reads the account's
StreamExecutions from the beginning until both orders have filled. Prints one JSON line per execution report it
read ("REPORT {...}"), then "DONE"; exits non-zero on any failure.
"""
import json
import os
import sys
import tempfile

import grpc
from grpc_tools import protoc


def compile_protos(proto_dir):
    out = tempfile.mkdtemp(prefix="tradewire-gateway-")
    files = ["google/api/http.proto", "google/api/annotations.proto", "google/rpc/status.proto", "tradewire/v1/common.proto", "tradewire/v1/order.proto", "tradewire/v1/risk.proto", "tradewire/v1/gateway.proto"]
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    args = ["protoc", "-I" + proto_dir, "-I" + include, "--python_out=" + out, "--grpc_python_out=" + out]
    if protoc.main(args + files) != 0:
        sys.exit("protoc failed")
    sys.path.insert(0, out)


def main():
    proto_dir, port, key = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    compile_protos(proto_dir)
    from tradewire.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc, order_pb2

    metadata = (("authorization", "Bearer " + key),)
    channel = grpc.insecure_channel("127.0.0.1:%d" % port)
    stub = gateway_pb2_grpc.GatewayStub(channel)

    def order(client_id, side, price):
        return order_pb2.NewOrder(
            client_order_id=client_id, symbol="BOLT", side=side, type=common_pb2.ORDER_TYPE_LIMIT,
            time_in_force=common_pb2.TIME_IN_FORCE_GTC, price=common_pb2.Price(units=price, scale=2),
            quantity=common_pb2.Quantity(units=7))

    placed = stub.PlaceOrder(gateway_pb2.PlaceOrderRequest(order=order("py-buy", common_pb2.SIDE_BUY, 5000)),
                             metadata=metadata, timeout=10)
    assert placed.order.status == common_pb2.ORDER_STATUS_ACCEPTED, placed

    # A wrong key is UNAUTHENTICATED.
    try:
        stub.GetOrder(gateway_pb2.GetOrderRequest(order=gateway_pb2.OrderRef(client_order_id="py-buy")),
                      metadata=(("authorization", "Bearer nope"),), timeout=10)
        sys.exit("a wrong key was accepted")
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED, error

    # The crossing sell on an OrderEntry session; its reports come back on the same stream.
    def requests():
        yield gateway_pb2.OrderEntryRequest(correlation_id="py-1", new_order=order("py-sell", common_pb2.SIDE_SELL, 5000))
        done.wait(10)

    import threading
    done = threading.Event()
    session = stub.OrderEntry(requests(), metadata=metadata, timeout=20)
    for response in session:
        report = response.execution_report
        if report.client_order_id == "py-sell" and report.exec_type == order_pb2.EXEC_TYPE_TRADE:
            assert report.correlation_id == "py-1", report
            done.set()
            break
    session.cancel()

    filled = set()
    stream = stub.StreamExecutions(gateway_pb2.StreamExecutionsRequest(from_beginning=True), metadata=metadata, timeout=20)
    for report in stream:
        print("REPORT " + json.dumps({
            "order": report.client_order_id, "exec_type": order_pb2.ExecType.Name(report.exec_type),
            "fix_exec_type": report.fix_exec_type, "cum": report.cumulative_quantity.units,
            "leaves": report.leaves_quantity.units, "avg": report.average_price, "cursor": report.cursor}))
        if report.exec_type == order_pb2.EXEC_TYPE_TRADE and report.leaves_quantity.units == 0:
            filled.add(report.client_order_id)
        if filled == {"py-buy", "py-sell"}:
            break
    stream.cancel()
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
