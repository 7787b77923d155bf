package client

import (
	"context"
	"encoding/json"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/heady-dev/heady/sdk"
	pluginpb "github.com/heady-dev/heady/sdk/proto"
)

// HostServer serves an sdk.Host to a plugin over gRPC.
type HostServer struct {
	pluginpb.UnimplementedHostServer
	h sdk.Host
}

// NewHostServer wraps h.
func NewHostServer(h sdk.Host) *HostServer { return &HostServer{h: h} }

func grpcErr(err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	}
	return status.Error(codes.Unknown, err.Error())
}

func decodeObject(b []byte) (map[string]any, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, status.Error(codes.InvalidArgument, "decode: "+err.Error())
	}
	return m, nil
}

func (s *HostServer) EmitEvent(ctx context.Context, r *pluginpb.EmitEventRequest) (*pluginpb.Empty, error) {
	data, err := decodeObject(r.Data)
	if err != nil {
		return nil, err
	}
	return &pluginpb.Empty{}, grpcErr(s.h.EmitEvent(ctx, r.Type, data))
}

func (s *HostServer) KVGet(ctx context.Context, r *pluginpb.KVGetRequest) (*pluginpb.KVGetResponse, error) {
	v, err := s.h.KVGet(ctx, r.Key)
	if errors.Is(err, sdk.ErrNotFound) {
		return &pluginpb.KVGetResponse{}, nil
	}
	if err != nil {
		return nil, grpcErr(err)
	}
	return &pluginpb.KVGetResponse{Value: v, Found: true}, nil
}

func (s *HostServer) KVPut(ctx context.Context, r *pluginpb.KVPutRequest) (*pluginpb.Empty, error) {
	return &pluginpb.Empty{}, grpcErr(s.h.KVPut(ctx, r.Key, r.Value))
}

func (s *HostServer) KVDelete(ctx context.Context, r *pluginpb.KVDeleteRequest) (*pluginpb.Empty, error) {
	return &pluginpb.Empty{}, grpcErr(s.h.KVDelete(ctx, r.Key))
}

func (s *HostServer) KVList(ctx context.Context, r *pluginpb.KVListRequest) (*pluginpb.KVListResponse, error) {
	keys, err := s.h.KVList(ctx, r.Prefix)
	if err != nil {
		return nil, grpcErr(err)
	}
	return &pluginpb.KVListResponse{Keys: keys}, nil
}

func (s *HostServer) Log(ctx context.Context, r *pluginpb.LogRequest) (*pluginpb.Empty, error) {
	fields, err := decodeObject(r.Fields)
	if err != nil {
		return nil, err
	}
	return &pluginpb.Empty{}, grpcErr(s.h.Log(ctx, sdk.ParseLevel(r.Level), r.Message, fields))
}

func (s *HostServer) Metrics(ctx context.Context, _ *pluginpb.Empty) (*pluginpb.MetricsResponse, error) {
	m, err := s.h.Metrics(ctx)
	if err != nil {
		return nil, grpcErr(err)
	}
	return &pluginpb.MetricsResponse{Values: m}, nil
}

func (s *HostServer) RunWorkflow(ctx context.Context, r *pluginpb.RunWorkflowRequest) (*pluginpb.RunWorkflowResponse, error) {
	in, err := decodeObject(r.Input)
	if err != nil {
		return nil, err
	}
	id, err := s.h.RunWorkflow(ctx, r.Name, in)
	if err != nil {
		return nil, grpcErr(err)
	}
	return &pluginpb.RunWorkflowResponse{ExecutionId: id}, nil
}

func (s *HostServer) Maintenance(ctx context.Context, r *pluginpb.MaintenanceRequest) (*pluginpb.MaintenanceResponse, error) {
	args, err := decodeObject(r.Args)
	if err != nil {
		return nil, err
	}
	res, err := s.h.Maintenance(ctx, r.Op, args)
	if err != nil {
		return nil, grpcErr(err)
	}
	var b []byte
	if res != nil {
		if b, err = json.Marshal(res); err != nil {
			return nil, status.Error(codes.Internal, "encode result: "+err.Error())
		}
	}
	return &pluginpb.MaintenanceResponse{Result: b}, nil
}
