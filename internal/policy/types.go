package policy

import "time"

// Built-in values used where the policy file is silent, and hard ceilings that
// no policy can raise.
const (
	DefaultNamePrefix      = "agent-"
	DefaultExpiryDays      = 30
	DefaultMaxExpiryDays   = 90
	DefaultMaxRateLimit    = 1000
	DefaultMaxRateWindowMs = 3600000
	CeilingExpiryDays      = 365     // API maximum for expiresInDays
	CeilingRateLimit       = 10000   // API maximum for rateLimitMax
	CeilingRateWindowMs    = 3600000 // API maximum for rateLimitTimeWindow
	APIDefaultRateLimit    = 500     // what the API uses when rateLimitMax is omitted
	APIDefaultRateWindowMs = 60000   // what the API uses when rateLimitTimeWindow is omitted
	MaxNameLength          = 100
	MaxTagLength           = 100
	MaxQuoted              = 80 // refusal texts quote at most this many characters of an input
)

// Policy is a validated, immutable policy. Build one with Parse, Load,
// FromAllowedTags or Default; the zero value is not valid.
type Policy struct {
	// Source says where the policy came from: a file path, "MCP_KEYS_ALLOWED_TAGS"
	// or "built-in default (deny all)".
	Source string
	Tags   TagRules
	Keys   KeyRules
	Revoke RevokeRules

	// c is what evaluation reads: the compiled patterns, a copy of the
	// settings and precomputed texts. nil means deny all.
	c *compiled
}

// TagRules is the tags section.
type TagRules struct {
	Allow    []string
	Deny     []string
	AllowNew bool
}

// KeyRules is the keys section, with built-in values filled in.
type KeyRules struct {
	NamePrefix        string
	DefaultExpiryDays int
	MaxExpiryDays     int
	MaxRateLimit      int
	MaxRateWindowMs   int
}

// RevokeRules is the revoke section, with built-in values filled in.
type RevokeRules struct {
	Enabled      bool
	OnlyPrefixed bool
}

// Action is what a request asks for.
type Action string

const (
	// ActionCreate mints a scoped key.
	ActionCreate Action = "create"
	// ActionRevoke revokes (disables) a key.
	ActionRevoke Action = "revoke"
)

// Tristate is a fact that may not have been looked up.
type Tristate int8

const (
	// Unknown means the fact was not looked up.
	Unknown Tristate = iota
	// No means the fact was looked up and is false.
	No
	// Yes means the fact was looked up and is true.
	Yes
)

// CreateRequest is a request to mint a scoped key, exactly as the agent gave
// it. Nil pointers mean "not given".
type CreateRequest struct {
	Tag               string
	Name              string
	ExpiresInDays     *int
	RateLimitMax      *int
	RateLimitWindowMs *int
	// FullAccessArgs names arguments through which the caller asked for Full
	// Access (e.g. "permission", "full_access", "scope"). Any entry refuses.
	FullAccessArgs []string
	// TagExists is looked up by the caller when Tags.AllowNew is false.
	TagExists Tristate
	// Now is used for the default name's date; the caller supplies it so
	// evaluation stays pure.
	Now time.Time
}

// RevokeTarget is what a fresh listing says of the key to revoke.
type RevokeTarget struct {
	ID      string
	Name    string
	Scoped  bool
	Tags    []string
	Enabled bool
}

// RevokeRequest is a request to revoke a key. Target is nil when the id was
// not found in a fresh listing.
type RevokeRequest struct {
	ID     string
	Target *RevokeTarget
}

// Outcome is the result of one rule.
type Outcome string

const (
	// Pass means the rule allowed the request.
	Pass Outcome = "pass"
	// Fail means the rule refused the request.
	Fail Outcome = "fail"
	// Skip means the rule did not apply (or an earlier failure made it moot).
	Skip Outcome = "skip"
)

// RuleResult is one rule's verdict with a one-line human reason.
type RuleResult struct {
	Rule    string
	Outcome Outcome
	Detail  string
}

// Effective is the request that would be sent: the name with its prefix, and
// the defaults filled in.
type Effective struct {
	Tag               string
	Name              string
	ExpiresInDays     int
	RateLimitMax      int
	RateLimitWindowMs int
}

// Decision is the outcome of an evaluation.
type Decision struct {
	Action    Action
	Allowed   bool
	Rules     []RuleResult
	Effective Effective
}
