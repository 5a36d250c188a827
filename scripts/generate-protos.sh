#!/usr/bin/env bash
# generate-protos.sh: regenerate Sources/AgentAPI from Protos/nodeagent/v1/*.proto.
#
# The generated Swift is committed (a protobuf build plugin would add ~10 minutes to every
# clean build). Run this after changing a .proto and commit the result with it.
# Uses Debian's protoc (protobuf-compiler, well-known types from libprotobuf-dev) and the
# protoc-gen-swift / protoc-gen-grpc-swift-2 plugins built from the versions Package.swift pins,
# in their own scratch folder (.build-protoc, ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."

for package in protobuf-compiler libprotobuf-dev; do
    if [[ $(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true) != "install ok installed" ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends protobuf-compiler libprotobuf-dev
        break
    fi
done

scratch=.build-protoc
swift build -c release --scratch-path "$scratch" --product protoc-gen-swift >/dev/null
swift build -c release --scratch-path "$scratch" --product protoc-gen-grpc-swift-2 >/dev/null
bin=$(swift build -c release --scratch-path "$scratch" --show-bin-path)

out=Sources/AgentAPI
find "$out" -name '*.pb.swift' -o -name '*.grpc.swift' | xargs -r rm -f  # RequestDeserializer.swift stays
protoc -I Protos -I /usr/include \
    --plugin=protoc-gen-swift="$bin/protoc-gen-swift" \
    --plugin=protoc-gen-grpc-swift-2="$bin/protoc-gen-grpc-swift-2" \
    --swift_opt=Visibility=Public --swift_opt=FileNaming=DropPath --swift_out="$out" \
    --grpc-swift-2_opt=Visibility=Public --grpc-swift-2_opt=FileNaming=DropPath --grpc-swift-2_out="$out" \
    Protos/nodeagent/v1/*.proto
# Requests that fail to decode are refused naming the field at fault (Sources/AgentAPI/RequestDeserializer.swift,
# hand-written) instead of GRPCProtobuf's "Can't deserialize to message of type ...".
sed -i 's/GRPCProtobuf\.ProtobufDeserializer</AgentAPI.RequestDeserializer</g' "$out"/*.grpc.swift
echo "[generate-protos] $(ls "$out" | wc -l) files in $out"
