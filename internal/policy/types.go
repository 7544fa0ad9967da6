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

	DefaultMaxTags         = 10   // keys.max_tags when the policy is silent
	CeilingTags            = 50   // largest keys.max_tags
	DefaultMaxLeaseMinutes = 1440 // keys.max_lease_minutes when the policy is silent
	CeilingLeaseMinutes    = 1440 // largest keys.max_lease_minutes (the API's shortest expiry is one day)
	DefaultMaxGraceMinutes = 60   // rotate.max_grace_minutes when the policy is silent
	CeilingGraceMinutes    = 1440 // largest rotate.max_grace_minutes
	LeaseExpiryDays        = 1    // expiresInDays sent for a leased key
)

// Permissions a scoped key may carry. Anything else is treated as a request
// for Full Access and refused by code.
const (
	// PermissionRead lets the key read memories only.
	PermissionRead = "read"
	// PermissionWrite lets the key read and write memories.
	PermissionWrite = "write"
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
	// Access holds the least-privilege and lease settings of the keys
	// section: keys.max_tags, keys.default_permission,
	// keys.max_lease_minutes and keys.require_lease.
	Access AccessRules
	// Rotate is the rotate section.
	Rotate RotateRules
	// Callers is the callers section (HTTP mode only; stdio ignores it). It
	// is nil in a caller's policy (see ForCaller), which never shows other
	// callers' rules.
	Callers []CallerRule
	// CallerQuota is the per-caller quota of a caller's policy (see
	// ForCaller), checked besides Quota; zero at the top level.
	CallerQuota QuotaRules

	// c is what evaluation reads: the compiled patterns, a copy of the
	// settings and precomputed texts. nil means deny all.
	c *compiled
}

// TagRules is the tags section.
type TagRules struct {
	Allow    []string
	Deny     []string
	AllowNew bool
	// ReadOnly lists patterns of tags that a key may only read: a key that
	// includes such a tag must have permission read. Like Deny, these
	// patterns ignore case.
	ReadOnly []string
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
	// Scope is "" at the top level (the local stdio caller: no scope rule),
	// and ScopeOwn or ScopeTeam in a caller's policy (rule target_scope).
	Scope RevokeScope
}

// RevokeScope says which keys a remote caller may revoke, list and rotate.
type RevokeScope string

const (
	// ScopeOwn allows only keys that this caller minted (the default).
	ScopeOwn RevokeScope = "own"
	// ScopeTeam also allows keys minted through mcp-keys by anyone, on tags
	// that the caller's rule allows.
	ScopeTeam RevokeScope = "team"
)

// AccessRules are the least-privilege and lease settings of the keys
// section, with built-in values filled in.
type AccessRules struct {
	// MaxTags is the most tags one key may carry: 1..CeilingTags, default
	// DefaultMaxTags.
	MaxTags int
	// DefaultPermission is PermissionRead or PermissionWrite (the default):
	// the permission of a key whose request gives none.
	DefaultPermission string
	// MaxLeaseMinutes is the longest lease: 1..CeilingLeaseMinutes, default
	// DefaultMaxLeaseMinutes.
	MaxLeaseMinutes int
	// RequireLease refuses a key without a lease. Default false.
	RequireLease bool
	// AssumeWritePermission accepts a new key whose permission neither the
	// API's answer nor a fresh listing shows, when write was asked (the
	// API's default). Never for read: a read key must be shown as read.
	// Default false: an unshown permission is revoked as unverified.
	AssumeWritePermission bool
}

// RotateRules is the rotate section, with built-in values filled in.
type RotateRules struct {
	// Enabled allows rotate_key. Default: as revoke.enabled (rotation
	// revokes the old key, so it is never enabled when revoke is not).
	Enabled bool
	// MaxGraceMinutes is the longest time the old key may live on after a
	// rotation: 0..CeilingGraceMinutes, default DefaultMaxGraceMinutes.
	MaxGraceMinutes int
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
	// ActionRotate mints a replacement for a key and revokes the old one.
	ActionRotate Action = "rotate"
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
	// Tag is the tag argument (one tag); "" when not given.
	Tag string
	// Tags is the tags argument (several tags), used when TagsSet. Giving
	// both tag and tags is refused (rule tag_count).
	Tags    []string
	TagsSet bool
	// Permission is PermissionRead, PermissionWrite or "" (not given: the
	// policy's default_permission). Any other value is a request for Full
	// Access and is refused (rule scoped_only).
	Permission        string
	Name              string
	ExpiresInDays     *int
	RateLimitMax      *int
	RateLimitWindowMs *int
	// LeaseMinutes asks for a lease: the key is minted for LeaseExpiryDays
	// and revoked by mcp-keys when the lease ends. It excludes
	// ExpiresInDays.
	LeaseMinutes *int
	// FullAccessArgs names arguments through which the caller asked for Full
	// Access (e.g. "full_access", "scope"). Any entry refuses.
	FullAccessArgs []string
	// TagExists is looked up by the caller when Tags.AllowNew is false, for
	// a request with exactly one tag (TagsExist, when it has the tag, wins).
	TagExists Tristate
	// TagsExist says, per tag, whether it exists; the caller looks it up
	// when Tags.AllowNew is false. A tag missing from it is Unknown (or, for
	// a request with one tag, TagExists).
	TagsExist map[string]Tristate
	// Now is used for the default name's date; the caller supplies it so
	// evaluation stays pure.
	Now time.Time
	// Recent counts the creates recorded in the audit log, for the quota
	// rule. The caller fills it in when a quota is configured.
	Recent CreateCounts
	// CallerRecent counts the creates of this caller alone, for the
	// quota_caller rule of a caller's policy (CallerQuota set).
	CallerRecent CreateCounts
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
	// through mcp-keys; the caller looks it up when Revoke.OnlyMinted, and
	// for a caller's policy with revoke scope team.
	Minted Tristate
	// MintedByCaller says whether the store records this key as minted by
	// the caller being served; the caller looks it up for a caller's policy
	// (rule target_scope). Yes implies Minted.
	MintedByCaller Tristate
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
	// Tag is the tag when the request has exactly one, "" otherwise.
	Tag string
	// Tags is every tag of the request, in the order given.
	Tags              []string
	Name              string
	ExpiresInDays     int
	RateLimitMax      int
	RateLimitWindowMs int
	// Permission is PermissionRead or PermissionWrite (or, in a refused
	// request, the value asked for).
	Permission string
	// LeaseMinutes is the lease, 0 for none. A leased key has ExpiresInDays
	// LeaseExpiryDays.
	LeaseMinutes int
}

// Decision is the outcome of an evaluation.
type Decision struct {
	Action    Action
	Allowed   bool
	Rules     []RuleResult
	Effective Effective
}

// RotateRequest is a request to replace a key: the old key to revoke, the
// replacement to mint (same tags, permission and limits, a new name), and
// how long the old key may live on.
type RotateRequest struct {
	Revoke RevokeRequest
	Create CreateRequest
	// GraceMinutes keeps the old key alive on a lease of this many minutes;
	// 0 revokes it at once.
	GraceMinutes int
}
