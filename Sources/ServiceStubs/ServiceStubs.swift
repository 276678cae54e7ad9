// A protocol to implement and a client for every service in proto/, generated into Generated/ by tools/generate.
// `Grpc_Testing_TestService.ServiceProtocol` is served by passing an implementation to a Server;
// `Grpc_Testing_TestService.Client(channel)` calls it.
@_exported public import RPC
@_exported public import Protos
