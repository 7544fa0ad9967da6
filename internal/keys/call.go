package keys

import (
	"context"

	"github.com/mcp-keys/mcp-keys/internal/audit"
	"github.com/mcp-keys/mcp-keys/internal/policy"
)

// Action is what a call asks for; writes and checks are recorded under it.
type Action int

// Actions.
const (
	// ActionRead is a listing: it decides nothing and is not recorded.
	ActionRead Action = iota
	// ActionCreate is create_scoped_key.
	ActionCreate
	// ActionRevoke is revoke_key.
	ActionRevoke
	// ActionCheck is a dry run (check_policy, policy explain).
	ActionCheck
	// ActionRotate is rotate_key (recorded as a create).
	ActionRotate
)

// event is the audit event a decision on the action is recorded under.
func (a Action) event() audit.Event {
	switch a {
	case ActionCreate, ActionRotate:
		return audit.EventCreate
	case ActionRevoke:
		return audit.EventRevoke
	case ActionCheck:
		return audit.EventCheck
	}
	return ""
}

// Call is what every use case is told besides its own arguments: who asks,
// through which front door, and what the front door can do for it.
type Call struct {
	// Caller is who asks.
	Caller Caller
	// Tool names the action as the caller invoked it (create_scoped_key,
	// policy explain, ...), for the audit log and logs.
	Tool string
	// Client and ClientVersion name the MCP client, when there is one.
	Client, ClientVersion string
	// Args are the names of the arguments given that the action knows, and
	// OtherArgs how many others there were: logs name arguments, never
	// their values, and never a name the action does not know.
	Args      []string
	OtherArgs int
	// Confirm asks a person to confirm a write; nil means nobody can be
	// asked.
	Confirm Prompter
}

// ArgumentsRefused records that a call's arguments could not be decoded —
// a refusal of the arguments is a decision too — and returns the failure
// to report. detail says what was wrong. Actions that change nothing
// (listings) are not recorded.
func (s *Service) ArgumentsRefused(ctx context.Context, call Call, action Action, detail string) *Failure {
	s.log.Info().Str("tool", call.Tool).Str("caller", call.Caller.String()).Strs("args", call.Args).Int("other_args", call.OtherArgs).Msg("arguments refused")
	msg := "Invalid arguments: " + detail + ". Nothing was done; fix the arguments and call again."
	if action == ActionRead {
		return &Failure{Kind: FailInvalid, Message: msg}
	}
	r := s.baseRecord(call, action.event())
	r.Decision, r.Reason = audit.DecisionDenied, "invalid arguments"
	r.Rules = []audit.Rule{{Rule: "arguments", Outcome: string(policy.Fail), Detail: detail}}
	_, _ = s.appendRecord(ctx, r)
	p := s.PolicyFor(call.Caller)
	if action != ActionCheck && p.DeniesAllWrites() {
		msg += DefaultDenyNote(p)
	}
	return &Failure{Kind: FailInvalid, Message: msg}
}
