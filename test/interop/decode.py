#!/usr/bin/python3
"""Decode a Weft payload with Python's google.protobuf, using only stored schema bytes.

Usage: decode.py <type> <payload-file> <schema-file> [<schema-file> ...]

Each schema file holds the bytes of one serialized google.protobuf.FileDescriptorProto, exactly
as read back from the `<prefix>:schemas` hash (see the wire contract in ARCHITECTURE.md).
Prints the decoded message as JSON (proto field names, int64 as strings, enums as names,
bytes as base64, Timestamp as RFC 3339) on stdout.

Run with Debian's /usr/bin/python3 and its python3-protobuf package.
"""

import sys

try:
    from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory, timestamp_pb2
except ImportError as exc:  # pragma: no cover - reported by the calling test
    sys.stderr.write("google.protobuf is missing (%s): apt-get install -y protobuf-compiler python3-protobuf\n" % exc)
    sys.exit(3)


def message_class(pool, full_name):
    desc = pool.FindMessageTypeByName(full_name)
    if hasattr(message_factory, "GetMessageClass"):  # protobuf >= 4.22
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(pool).GetPrototype(desc)  # older API (Debian 12: 3.21/4.21)


def main(argv):
    if len(argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    type_name, payload_path, schema_paths = argv[1], argv[2], argv[3:]

    pool = descriptor_pool.DescriptorPool()
    # The one import a stored schema may have: google/protobuf/timestamp.proto.
    pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
    for path in schema_paths:
        with open(path, "rb") as fh:
            raw = fh.read()
        # Parse first so that a bad file fails with a clear message, then add the exact bytes.
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        pool.AddSerializedFile(raw)

    cls = message_class(pool, type_name)
    with open(payload_path, "rb") as fh:
        msg = cls.FromString(fh.read())
    print(json_format.MessageToJson(msg, preserving_proto_field_name=True, sort_keys=True, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
