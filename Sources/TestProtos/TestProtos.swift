// Messages of proto/tradewire/testing, for the codec's tests only; generated into Generated/ by tools/generate.
@_exported public import ProtoCodec
