#!/bin/sh
# Regenerates the Go code for plugin.proto.
#
# Requirements (pinned so that the output is reproducible):
#   protoc              Debian package protobuf-compiler (libprotoc 3.21.12)
#   protoc-gen-go       go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
#   protoc-gen-go-grpc  go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
#
# Usage: sdk/proto/generate.sh [OUTDIR]
# OUTDIR defaults to the directory of this script.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
PATH="$(go env GOPATH)/bin:$PATH"
export PATH

want_go=v1.36.12
want_grpc=1.6.2
have_go=$(protoc-gen-go --version 2>/dev/null | awk '{print $2}')
have_grpc=$(protoc-gen-go-grpc --version 2>/dev/null | awk '{print $2}')
if [ "$have_go" != "$want_go" ]; then
	echo "generate.sh: need protoc-gen-go $want_go (have '${have_go:-none}'): go install google.golang.org/protobuf/cmd/protoc-gen-go@$want_go" >&2
	exit 1
fi
if [ "$have_grpc" != "$want_grpc" ]; then
	echo "generate.sh: need protoc-gen-go-grpc $want_grpc (have '${have_grpc:-none}'): go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v$want_grpc" >&2
	exit 1
fi
command -v protoc >/dev/null || { echo "generate.sh: protoc not found (apt-get install protobuf-compiler)" >&2; exit 1; }

mkdir -p "$out"
cd "$here"
protoc -I . \
	--go_out="$out" --go_opt=paths=source_relative \
	--go-grpc_out="$out" --go-grpc_opt=paths=source_relative \
	plugin.proto
