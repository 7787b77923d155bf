// Command rawserver serves the plugin protocol's RunAction as a plain gRPC
// server on a Unix socket (argv[1]), doing the same JSON work as the sdk's
// noop action. The plugin benchmarks compare against it.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"

	"google.golang.org/grpc"

	pluginpb "github.com/heady-dev/heady/sdk/proto"
)

type server struct {
	pluginpb.UnimplementedPluginServer
}

func (server) RunAction(_ context.Context, req *pluginpb.ActionRequest) (*pluginpb.ActionResponse, error) {
	var in map[string]any
	if len(req.Inputs) > 0 {
		if err := json.Unmarshal(req.Inputs, &in); err != nil {
			return nil, err
		}
	}
	out, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	return &pluginpb.ActionResponse{Outputs: out}, nil
}

func main() {
	l, err := net.Listen("unix", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s := grpc.NewServer()
	pluginpb.RegisterPluginServer(s, server{})
	fmt.Println("ready")
	_ = s.Serve(l)
}
