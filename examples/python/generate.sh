#!/bin/sh
# Generates the Python modules of the nodeagent gRPC API from Protos/ into
# examples/python/nodeagent_api/ (not committed; run again after the .proto files change).
#
#   pip install -r examples/python/requirements.txt
#   examples/python/generate.sh
#
# Then `from nodeagent_api.nodeagent.v1 import guests_pb2, guests_pb2_grpc` works with
# examples/python on sys.path (it is when running nodeagent_client.py).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
protos=$(cd "$here/../../Protos" && pwd)
python=${PYTHON:-python3}
out="$here/nodeagent_api"

rm -rf "$out"
mkdir -p "$out"

# grpc_tools ships google/protobuf/*.proto (timestamp.proto) and adds them to the include path.
"$python" -m grpc_tools.protoc \
    --proto_path="$protos" \
    --python_out="$out" \
    --pyi_out="$out" \
    --grpc_python_out="$out" \
    "$protos"/nodeagent/v1/*.proto

# protoc writes imports relative to the proto root ("from nodeagent.v1 import common_pb2");
# make them absolute within the nodeagent_api package.
for file in "$out"/nodeagent/v1/*.py "$out"/nodeagent/v1/*.pyi; do
    sed -i.orig 's/^from nodeagent\.v1 import /from nodeagent_api.nodeagent.v1 import /' "$file"
    rm -f "$file.orig"
done

for package in "$out" "$out/nodeagent" "$out/nodeagent/v1"; do
    : > "$package/__init__.py"
done

echo "generated $(ls "$out"/nodeagent/v1/*.py | wc -l | tr -d ' ') modules in $out"
