package openai

import (
	"google.golang.org/grpc/codes"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
)

// response maps the first choice of a chat completion. A completion without
// choices is a broken upstream answer, not the model's: UNAVAILABLE, so
// guardgen retries it like a 5xx rather than re-asking the model. In tools
// mode the answer is the first tool call's arguments; maps sent as entry
// lists come back as JSON objects.
func (p *Provider) response(c *completion, out outgoing) (*providerv1.CompleteResponse, error) {
	if c == nil || len(c.Choices) == 0 {
		return nil, fault(codes.Unavailable, "openai: upstream returned no choices", ReasonUnavailable, nil)
	}
	choice := &c.Choices[0]
	resp := &providerv1.CompleteResponse{
		Content:      choice.Message.Content,
		FinishReason: finishReason(choice.FinishReason),
		Refusal:      choice.Message.Refusal,
		Model:        c.Model,
		Id:           c.ID,
		Constraint:   out.constraint,
		Usage:        c.Usage.proto(),
	}
	resp.Logprobs = tokenLogprobs(&choice.Logprobs)
	called := p.mode == ModeTools && len(choice.Message.ToolCalls) > 0
	if called {
		resp.Content = choice.Message.ToolCalls[0].Function.Arguments
	}
	resp.FinishReason = p.toolFinish(resp.FinishReason, called)
	if out.entries != nil && resp.FinishReason == providerv1.FinishReason_FINISH_REASON_STOP {
		content, paths := fromEntries([]byte(resp.Content), out.entries)
		resp.Content = string(content)
		out.constraint.MapEntries = paths
	}
	if resp.Refusal != "" {
		resp.FinishReason = providerv1.FinishReason_FINISH_REASON_REFUSAL
	}
	return resp, nil
}

// toolFinish is the finish reason of an answer, unary or streamed, given
// whether the model made the forced call (tools mode): the first call's
// arguments are the answer, and a model that made it stopped as asked,
// whichever finish reason the server reports for that. Without a call,
// tool_calls stays what it is.
func (p *Provider) toolFinish(reason providerv1.FinishReason, called bool) providerv1.FinishReason {
	if p.mode == ModeTools && called && reason == providerv1.FinishReason_FINISH_REASON_TOOL_CALLS {
		return providerv1.FinishReason_FINISH_REASON_STOP
	}
	return reason
}

// finishReason maps choices[].finish_reason; function_call is the
// deprecated spelling of tool_calls.
func finishReason(reason string) providerv1.FinishReason {
	switch reason {
	case "stop":
		return providerv1.FinishReason_FINISH_REASON_STOP
	case "length":
		return providerv1.FinishReason_FINISH_REASON_LENGTH
	case "content_filter":
		return providerv1.FinishReason_FINISH_REASON_CONTENT_FILTER
	case "tool_calls", "function_call":
		return providerv1.FinishReason_FINISH_REASON_TOOL_CALLS
	}
	return providerv1.FinishReason_FINISH_REASON_OTHER
}
