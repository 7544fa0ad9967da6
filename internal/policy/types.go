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
	MaxQuoted              = 80     // refusal texts quote at most this many characters of an input
	CeilingKeysPerHour     = 10000  // largest quota.max_keys_per_hour
	CeilingKeysPerDay      = 100000 // largest quota.max_keys_per_day
	MaxSecretsDirLength    = 4096   // longest secrets.dir, in bytes
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
	// Quota limits how many keys may be minted per hour and per day.
	Quota QuotaRules
	// Confirm says when a person must confirm a create or a revoke.
	Confirm ConfirmRules
	// Secrets says how the secret of a new key reaches the user.
	Secrets SecretsRules
	// Audit says whether a write must be recorded before it is made.
	Audit AuditRules

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
	// OnlyMinted allows revoking only keys whose id the audit log records as
	// minted through mcp-keys (rule target_minted). Default true.
	OnlyMinted bool
}

// QuotaRules is the quota section: how many keys may be minted, counted from
// the audit log over the last hour and the last 24 hours. 0 means no quota.
type QuotaRules struct {
	// MaxKeysPerHour is 0 (no hourly quota) or 1..CeilingKeysPerHour.
	MaxKeysPerHour int
	// MaxKeysPerDay is 0 (no daily quota) or 1..CeilingKeysPerDay, and not
	// below MaxKeysPerHour when both are set.
	MaxKeysPerDay int
}

// ConfirmMode says when a person must confirm an action.
type ConfirmMode string

const (
	// ConfirmNever asks no one (the default).
	ConfirmNever ConfirmMode = "never"
	// ConfirmIfSupported asks the person when the MCP client can ask, and
	// goes ahead without asking when it cannot.
	ConfirmIfSupported ConfirmMode = "if-supported"
	// ConfirmAlways asks the person, and refuses when the client cannot ask.
	ConfirmAlways ConfirmMode = "always"
)

// ConfirmRules is the confirm section, with built-in values filled in.
type ConfirmRules struct {
	// Create is the mode for create_scoped_key. Default ConfirmNever.
	Create ConfirmMode
	// Revoke is the mode for revoke_key. Default ConfirmNever.
	Revoke ConfirmMode
}

// Values of SecretsRules.Deliver.
const (
	// DeliverChat returns the new key in the tool result, shown once (the
	// default).
	DeliverChat = "chat"
	// DeliverFile writes the new key to <Dir>/<key-id>.env instead.
	DeliverFile = "file"
)

// SecretsRules is the secrets section, with built-in values filled in.
type SecretsRules struct {
	// Deliver is DeliverChat (default) or DeliverFile.
	Deliver string
	// Dir is the absolute directory for DeliverFile; "" with DeliverChat.
	Dir string
}

// AuditRules is the audit section, with built-in values filled in.
type AuditRules struct {
	// Required refuses a create or revoke whose audit record cannot be
	// written before the call. Default true.
	Required bool
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
	// Recent counts the creates recorded in the audit log, for the quota
	// rule. The caller fills it in when a quota is configured.
	Recent CreateCounts
}

// CreateCounts is how many keys the audit log records as minted through
// mcp-keys in the last hour and the last 24 hours.
type CreateCounts struct {
	LastHour int
	LastDay  int
	// HourFreesAt and DayFreesAt are when the oldest create counted in each
	// window leaves it (zero when unknown or the window is empty).
	HourFreesAt time.Time
	DayFreesAt  time.Time
	// Known is false when the audit log could not be read: a configured
	// quota then refuses.
	Known bool
}

// RevokeTarget is what a fresh listing says of the key to revoke.
type RevokeTarget struct {
	ID      string
	Name    string
	Scoped  bool
	Tags    []string
	Enabled bool
	// Minted says whether the audit log records this key id as minted
	// through mcp-keys; the caller looks it up when Revoke.OnlyMinted.
	Minted Tristate
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
