package server

import (
	"context"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/guardgen/guardgen/classifier"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

// ListTargets implements TargetService.ListTargets.
func (s *Server) ListTargets(context.Context, *guardgenv1.ListTargetsRequest) (*guardgenv1.ListTargetsResponse, error) {
	return &guardgenv1.ListTargetsResponse{Targets: s.resolver.List()}, nil
}

// DescribeTarget implements TargetService.DescribeTarget: the JSON Schema
// providers see and the rules the output must pass.
func (s *Server) DescribeTarget(ctx context.Context, req *guardgenv1.DescribeTargetRequest) (*guardgenv1.DescribeTargetResponse, error) {
	target, err := s.resolver.ResolveContext(ctx, req.GetTargetType(), req.GetDescriptorSet())
	if err != nil {
		return nil, statusOf(resolveFailure(err))
	}
	js := &structpb.Struct{}
	if err := protojson.Unmarshal(target.JSONSchema, js); err != nil {
		return nil, statusOf(classifier.Wrap(err, guardgenv1.FailureReason_FAILURE_REASON_INTERNAL, "derived JSON Schema is not a JSON object"))
	}
	fieldRules, messageRules := target.Rules()
	semanticFields, messageSemantics := s.semantics.checksFor(target).Describe()
	return &guardgenv1.DescribeTargetResponse{
		Target:           target.Info(),
		JsonSchema:       js,
		FieldRules:       fieldRules,
		MessageRules:     messageRules,
		SemanticFields:   semanticFields,
		MessageSemantics: messageSemantics,
	}, nil
}
