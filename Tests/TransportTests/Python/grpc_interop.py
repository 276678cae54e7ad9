#!/usr/bin/env python3
"""gRPC interop with Python's grpcio (PyPI), for TransportTests.

    grpc_interop.py PROTO_DIR client PORT   calls grpc.testing.TestService on 127.0.0.1:PORT: all four call kinds,
                                            metadata, deadlines, errors, compression. Prints PASS/FAIL per check;
                                            exits with the number of failures.
    grpc_interop.py PROTO_DIR server        serves grpc.testing.TestService (as grpc's interop descriptions ask) on
                                            a free port, prints "PORT n", runs until terminated.
"""
import os
import re
import shutil
import sys
import tempfile
import time
from concurrent import futures

import grpc
from grpc_tools import protoc


def compile_protos(proto_dir):
    # grpcio's own `grpc` package would shadow modules generated at grpc/testing/, so the files are copied to
    # tw_interop/ with their imports rewritten. The proto package stays grpc.testing: method paths are unchanged.
    out = tempfile.mkdtemp(prefix="tradewire-grpc-")
    src = os.path.join(out, "src", "tw_interop")
    os.makedirs(src)
    for name in ("empty.proto", "messages.proto", "test.proto"):
        text = open(os.path.join(proto_dir, "grpc", "testing", name)).read()
        open(os.path.join(src, name), "w").write(re.sub(r'import "grpc/testing/', 'import "tw_interop/', text))
    args = ["protoc", "-I" + os.path.join(out, "src"), "--python_out=" + out, "--grpc_python_out=" + out]
    if protoc.main(args + ["tw_interop/empty.proto", "tw_interop/messages.proto", "tw_interop/test.proto"]) != 0:
        sys.exit("protoc failed")
    sys.path.insert(0, out)


def run_client(port):
    from tw_interop import empty_pb2, messages_pb2 as m, test_pb2_grpc
    channel = grpc.insecure_channel("127.0.0.1:%d" % port)
    stub = test_pb2_grpc.TestServiceStub(channel)
    failures = 0

    def check(name, fn):
        nonlocal failures
        try:
            fn()
            print("PASS", name)
        except Exception as error:  # noqa: BLE001 - report every failure and go on
            failures += 1
            print("FAIL", name, repr(error))

    def unary_with_metadata():
        metadata = (("x-grpc-test-echo-initial", "python"), ("x-grpc-test-echo-trailing-bin", b"\xab\xcd"))
        request = m.SimpleRequest(response_size=1000, payload=m.Payload(body=b"\x00" * 500))
        response, call = stub.UnaryCall.with_call(request, metadata=metadata, timeout=10)
        assert len(response.payload.body) == 1000
        assert ("x-grpc-test-echo-initial", "python") in call.initial_metadata(), call.initial_metadata()
        assert ("x-grpc-test-echo-trailing-bin", b"\xab\xcd") in call.trailing_metadata(), call.trailing_metadata()

    def server_streaming():
        request = m.StreamingOutputCallRequest(response_parameters=[m.ResponseParameters(size=s) for s in (1, 20, 300)])
        sizes = [len(r.payload.body) for r in stub.StreamingOutputCall(request, timeout=10)]
        assert sizes == [1, 20, 300], sizes

    def client_streaming():
        requests = (m.StreamingInputCallRequest(payload=m.Payload(body=b"\x00" * s)) for s in (1, 2, 3, 4))
        assert stub.StreamingInputCall(requests, timeout=10).aggregated_payload_size == 10

    def bidirectional():
        requests = (m.StreamingOutputCallRequest(response_parameters=[m.ResponseParameters(size=s)]) for s in (5, 6, 7))
        assert [len(r.payload.body) for r in stub.FullDuplexCall(requests, timeout=10)] == [5, 6, 7]

    def deadline():
        request = m.StreamingOutputCallRequest(response_parameters=[m.ResponseParameters(size=1, interval_us=500000)])
        try:
            list(stub.StreamingOutputCall(request, timeout=0.1))
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED, error.code()
            return
        raise AssertionError("no DEADLINE_EXCEEDED")

    def error_status():
        try:
            stub.UnaryCall(m.SimpleRequest(response_status=m.EchoStatus(code=3, message="bad ☺ 100%")), timeout=10)
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.code()
            assert error.details() == "bad ☺ 100%", error.details()
            return
        raise AssertionError("no error")

    def unimplemented():
        try:
            stub.UnimplementedCall(empty_pb2.Empty(), timeout=10)
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.UNIMPLEMENTED, error.code()
            return
        raise AssertionError("no UNIMPLEMENTED")

    def gzip():
        request = m.SimpleRequest(response_size=50000, payload=m.Payload(body=b"\x00" * 50000),
                                  response_compressed=m.BoolValue(value=True))
        response = stub.UnaryCall(request, timeout=10, compression=grpc.Compression.Gzip)
        assert len(response.payload.body) == 50000

    def oversize():
        # A 5 MiB request, and one that only gzip makes small: RESOURCE_EXHAUSTED in the status, not a reset.
        for compression in (None, grpc.Compression.Gzip):
            try:
                stub.UnaryCall(m.SimpleRequest(payload=m.Payload(body=b"\x00" * (5 << 20))), timeout=10, compression=compression)
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, (compression, error.code(), error.details())
                continue
            raise AssertionError("no RESOURCE_EXHAUSTED")

    def long_status():
        # A status message far longer than trailers allow: the code arrives (not RESOURCE_EXHAUSTED, not a hang),
        # with the message cut.
        try:
            stub.UnaryCall(m.SimpleRequest(response_status=m.EchoStatus(code=3, message="x" * 100000)), timeout=10)
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.code()
            assert len(error.details()) < 2000 and "cut" in error.details(), error.details()[:100]
            return
        raise AssertionError("no error")

    for name, fn in [("unary_with_metadata", unary_with_metadata), ("server_streaming", server_streaming),
                     ("client_streaming", client_streaming), ("bidirectional", bidirectional),
                     ("deadline", deadline), ("error_status", error_status), ("unimplemented", unimplemented),
                     ("gzip", gzip), ("oversize", oversize), ("long_status", long_status)]:
        check(name, fn)
    channel.close()
    return failures


def run_server():
    from tw_interop import empty_pb2, messages_pb2 as m, test_pb2_grpc

    def echo(context):
        metadata = dict(context.invocation_metadata())
        if "x-grpc-test-echo-initial" in metadata:
            context.send_initial_metadata((("x-grpc-test-echo-initial", metadata["x-grpc-test-echo-initial"]),))
        if "x-grpc-test-echo-trailing-bin" in metadata:
            context.set_trailing_metadata((("x-grpc-test-echo-trailing-bin", metadata["x-grpc-test-echo-trailing-bin"]),))

    def abort_if_asked(status, context):
        if status.code != 0:
            context.abort(grpc.StatusCode(next(c for c in grpc.StatusCode if c.value[0] == status.code).value), status.message)

    def responses(parameters, context):
        for p in parameters:
            if p.interval_us:
                time.sleep(p.interval_us / 1e6)
            yield m.StreamingOutputCallResponse(payload=m.Payload(body=b"\x00" * p.size))

    class TestService(test_pb2_grpc.TestServiceServicer):
        def EmptyCall(self, request, context):
            echo(context)
            return empty_pb2.Empty()

        def UnaryCall(self, request, context):
            echo(context)
            abort_if_asked(request.response_status, context)
            return m.SimpleResponse(payload=m.Payload(body=b"\x00" * request.response_size))

        def StreamingOutputCall(self, request, context):
            echo(context)
            yield from responses(request.response_parameters, context)
            abort_if_asked(request.response_status, context)

        def StreamingInputCall(self, request_iterator, context):
            echo(context)
            return m.StreamingInputCallResponse(aggregated_payload_size=sum(len(r.payload.body) for r in request_iterator))

        def FullDuplexCall(self, request_iterator, context):
            echo(context)
            for request in request_iterator:
                abort_if_asked(request.response_status, context)
                yield from responses(request.response_parameters, context)

        def HalfDuplexCall(self, request_iterator, context):
            echo(context)
            requests = list(request_iterator)
            for request in requests:
                yield from responses(request.response_parameters, context)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    test_pb2_grpc.add_TestServiceServicer_to_server(TestService(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print("PORT %d" % port, flush=True)
    server.wait_for_termination()


def main():
    compile_protos(sys.argv[1])
    if sys.argv[2] == "client":
        sys.exit(run_client(int(sys.argv[3])))
    run_server()


if __name__ == "__main__":
    main()
