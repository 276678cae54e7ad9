// Swift value types for every message and enum in proto/ (except proto/tradewire/testing), generated into
// Generated/ by tools/generate; see ProtoCodec for encoding and decoding.
//
// Naming follows swift-protobuf: `tradewire.v1.Order` is `Tradewire_V1_Order`, nested types nest, fields are
// lowerCamelCase properties, singular message fields are optionals, oneofs are `OneOf_*` enums.
@_exported public import ProtoCodec
