package policy

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

// designSettings is what the design.md example says.
var designSettings = struct {
	Tags   TagRules
	Keys   KeyRules
	Revoke RevokeRules
}{
	Tags:   TagRules{Allow: []string{"proj-*", "user_*", "team:search"}, Deny: []string{"proj-prod*"}, AllowNew: true},
	Keys:   KeyRules{NamePrefix: "agent-", DefaultExpiryDays: 30, MaxExpiryDays: 90, MaxRateLimit: 1000, MaxRateWindowMs: 3600000},
	Revoke: RevokeRules{Enabled: true, OnlyPrefixed: true, OnlyMinted: true},
}

// guardrails are the quota, confirm, secrets and audit sections of a policy.
type guardrails struct {
	Quota   QuotaRules
	Confirm ConfirmRules
	Secrets SecretsRules
	Audit   AuditRules
}

func guardrailsOf(p *Policy) guardrails { return guardrails{p.Quota, p.Confirm, p.Secrets, p.Audit} }

// builtinGuardrails are the built-in values of the guardrail sections.
var builtinGuardrails = guardrails{
	Confirm: ConfirmRules{Create: ConfirmNever, Revoke: ConfirmNever},
	Secrets: SecretsRules{Deliver: DeliverChat},
	Audit:   AuditRules{Required: true},
}

func mustParse(t testing.TB, src string) *Policy {
	t.Helper()
	p, err := Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

func TestParseFixtures(t *testing.T) {
	want := map[string]guardrails{
		"testdata/design.yaml": builtinGuardrails,
		"../../examples/policy.yaml": {
			Quota:   QuotaRules{MaxKeysPerHour: 10, MaxKeysPerDay: 50},
			Confirm: ConfirmRules{Create: ConfirmIfSupported, Revoke: ConfirmIfSupported},
			Secrets: SecretsRules{Deliver: DeliverChat},
			Audit:   AuditRules{Required: true},
		},
	}
	for file, wantGuard := range want {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Parse(file, data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if p.Source != file {
				t.Errorf("Source = %q, want %q", p.Source, file)
			}
			if !reflect.DeepEqual(p.Tags, designSettings.Tags) || p.Keys != designSettings.Keys || p.Revoke != designSettings.Revoke {
				t.Errorf("got %+v %+v %+v, want %+v", p.Tags, p.Keys, p.Revoke, designSettings)
			}
			if got := guardrailsOf(p); got != wantGuard {
				t.Errorf("got %+v, want %+v", got, wantGuard)
			}
			if p.DeniesAllWrites() {
				t.Error("DeniesAllWrites = true for a policy with allow patterns")
			}
		})
	}
}

// TestExampleFileForm checks that the commented-out file form in
// examples/policy.yaml is valid once uncommented.
func TestExampleFileForm(t *testing.T) {
	data, err := os.ReadFile("../../examples/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(data), "  deliver: chat\n", "", 1)
	src = strings.Replace(src, "  # deliver: file\n", "  deliver: file\n", 1)
	src = strings.Replace(src, "  # dir: ", "  dir: ", 1)
	p, err := Parse("example.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if p.Secrets.Deliver != DeliverFile || !strings.HasPrefix(p.Secrets.Dir, "/") {
		t.Errorf("Secrets = %+v, want the file form", p.Secrets)
	}
}

func TestParseTypo(t *testing.T) {
	const file = "testdata/design-typo.yaml"
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Parse(file, data)
	const want = `testdata/design-typo.yaml:3:3: unknown field "alow" in tags (did you mean "allow"?)`
	if err == nil || err.Error() != want {
		t.Fatalf("Parse error\n got %v\nwant %s", err, want)
	}
	var le *LoadError
	if !errors.As(err, &le) || le.Line != 3 || le.Col != 3 || le.File != file {
		t.Errorf("errors.As: %#v", le)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"unknown top-level", "tgs: {}\n", `f.yaml:1:1: unknown field "tgs" (did you mean "tags"?)`},
		{"unknown no suggestion", "tags:\n  colour: red\n", `f.yaml:2:3: unknown field "colour" in tags (known: allow, allow_new, deny, read_only)`},
		{"unknown case", "Tags: {}\n", `f.yaml:1:1: unknown field "Tags" (did you mean "tags"?)`},
		{"unknown in keys", "keys:\n  max_expiry: 30\n", `f.yaml:2:3: unknown field "max_expiry" in keys (known: assume_write_permission, default_expiry_days, default_permission, max_expiry_days, max_lease_minutes, max_rate_limit, max_rate_window_ms, max_tags, name_prefix, require_lease)`},
		{"unknown in revoke", "revoke:\n  enable: true\n", `f.yaml:2:3: unknown field "enable" in revoke (did you mean "enabled"?)`},
		{"unknown in revoke, no suggestion", "revoke:\n  colour: red\n", `f.yaml:2:3: unknown field "colour" in revoke (known: enabled, only_minted, only_prefixed)`},
		{"non-string key", "tags:\n  1: x\n", `f.yaml:2:3: unknown field "1" in tags (known: allow, allow_new, deny, read_only)`},
		{"complex key", "? [a]\n: 1\n", `f.yaml:1:3: top level: a field name must be a plain word, got a list`},
		{"unknown top-level among new sections", "quotas: {}\n", `f.yaml:1:1: unknown field "quotas" (did you mean "quota"?)`},
		{"unknown in quota", "version: 1\nquota:\n  per_day: 3\n", `f.yaml:3:3: unknown field "per_day" in quota (known: max_keys_per_day, max_keys_per_hour)`},
		{"quota typo", "quota:\n  max_key_per_day: 3\n", `f.yaml:2:3: unknown field "max_key_per_day" in quota (did you mean "max_keys_per_day"?)`},
		{"quota null", "quota:\n", `f.yaml:1:7: quota: expected a mapping of fields, got an empty value (null) (write {} for an empty section)`},
		{"quota scalar", "quota: 10\n", `f.yaml:1:8: quota: expected a mapping of fields, got the integer 10`},
		{"hour zero", "quota:\n  max_keys_per_hour: 0\n", `f.yaml:2:22: quota.max_keys_per_hour: 0 is out of range; it must be 1..10000`},
		{"hour over", "quota:\n  max_keys_per_hour: 10001\n", `f.yaml:2:22: quota.max_keys_per_hour: 10001 is out of range; it must be 1..10000`},
		{"day zero", "quota: {max_keys_per_day: 0}\n", `f.yaml:1:27: quota.max_keys_per_day: 0 is out of range; it must be 1..100000`},
		{"day over", "quota: {max_keys_per_day: 100001}\n", `f.yaml:1:27: quota.max_keys_per_day: 100001 is out of range; it must be 1..100000`},
		{"day negative", "quota: {max_keys_per_day: -5}\n", `f.yaml:1:27: quota.max_keys_per_day: -5 is out of range; it must be 1..100000`},
		{"hour string", "quota: {max_keys_per_hour: \"10\"}\n", `f.yaml:1:28: quota.max_keys_per_hour: expected an integer, got the string "10"`},
		{"hour float", "quota: {max_keys_per_hour: 1.5}\n", `f.yaml:1:28: quota.max_keys_per_hour: expected a whole number written in decimal digits, got the number 1.5`},
		{"hour null", "quota: {max_keys_per_hour: }\n", `f.yaml:1:28: quota.max_keys_per_hour: expected an integer, got an empty value (null)`},
		{"day below hour", "quota:\n  max_keys_per_hour: 10\n  max_keys_per_day: 5\n", `f.yaml:3:21: quota.max_keys_per_day: 5 is below quota.max_keys_per_hour (10)`},
		{"day below hour, day first", "quota:\n  max_keys_per_day: 5\n  max_keys_per_hour: 10\n", `f.yaml:2:21: quota.max_keys_per_day: 5 is below quota.max_keys_per_hour (10)`},
		{"quota duplicate", "quota:\n  max_keys_per_day: 5\n  max_keys_per_day: 6\n", `f.yaml:3:3: duplicate field "max_keys_per_day" in quota (first at line 2)`},
		{"confirm bad word", "confirm: sometimes\n", `f.yaml:1:10: confirm: "sometimes" is not one of never, if-supported, always`},
		{"confirm case", "confirm: Always\n", `f.yaml:1:10: confirm: "Always" is not one of never, if-supported, always (did you mean "always"?)`},
		{"confirm underscore", "confirm: if_supported\n", `f.yaml:1:10: confirm: "if_supported" is not one of never, if-supported, always (did you mean "if-supported"?)`},
		{"confirm bool", "confirm: true\n", `f.yaml:1:10: confirm: expected one of never, if-supported, always, or a mapping with create and revoke, got the boolean true`},
		{"confirm null", "confirm:\n", `f.yaml:1:9: confirm: expected one of never, if-supported, always, or a mapping with create and revoke, got an empty value (null)`},
		{"confirm list", "confirm: [always]\n", `f.yaml:1:10: confirm: expected one of never, if-supported, always, or a mapping with create and revoke, got a list`},
		{"confirm quoted empty", "confirm: \"\"\n", `f.yaml:1:10: confirm: "" is not one of never, if-supported, always`},
		{"confirm create bad", "confirm:\n  create: yes please\n", `f.yaml:2:11: confirm.create: "yes please" is not one of never, if-supported, always`},
		{"confirm revoke bool", "confirm:\n  revoke: false\n", `f.yaml:2:11: confirm.revoke: expected one of never, if-supported, always, got the boolean false`},
		{"confirm unknown action", "confirm:\n  create: never\n  revoked: always\n", `f.yaml:3:3: unknown field "revoked" in confirm (did you mean "revoke"?)`},
		{"confirm tagged", "confirm: !!str 5\n", `f.yaml:1:10: confirm: "5" is not one of never, if-supported, always`},
		{"deliver bad", "secrets:\n  deliver: email\n", `f.yaml:2:12: secrets.deliver: "email" is not one of chat, file`},
		{"deliver case", "secrets:\n  deliver: File\n", `f.yaml:2:12: secrets.deliver: "File" is not one of chat, file (did you mean "file"?)`},
		{"deliver int", "secrets: {deliver: 1}\n", `f.yaml:1:20: secrets.deliver: expected one of chat, file, got the integer 1`},
		{"file without dir", "secrets:\n  deliver: file\n", `f.yaml:2:12: secrets.dir is required when deliver is file (the absolute path of the directory for <key-id>.env files)`},
		{"dir with chat", "secrets:\n  deliver: chat\n  dir: /tmp/keys\n", `f.yaml:3:8: secrets.dir is only used with deliver: file (secrets.deliver is chat); remove it or set deliver: file`},
		{"dir with default chat", "secrets:\n  dir: /tmp/keys\n", `f.yaml:2:8: secrets.dir is only used with deliver: file (secrets.deliver is chat, the default); remove it or set deliver: file`},
		{"dir relative", "secrets:\n  deliver: file\n  dir: keys\n", `f.yaml:3:8: secrets.dir: path "keys" is not absolute; give the full path`},
		{"dir tilde", "secrets:\n  deliver: file\n  dir: ~/keys\n", `f.yaml:3:8: secrets.dir: path "~/keys" is not absolute; give the full path (~ and environment variables are not expanded)`},
		{"dir env", "secrets:\n  deliver: file\n  dir: $HOME/keys\n", `f.yaml:3:8: secrets.dir: path "$HOME/keys" is not absolute; give the full path (~ and environment variables are not expanded)`},
		{"dir empty", "secrets:\n  deliver: file\n  dir: \"\"\n", `f.yaml:3:8: secrets.dir: the directory is empty; give an absolute path`},
		{"dir null", "secrets:\n  deliver: file\n  dir:\n", `f.yaml:3:7: secrets.dir: expected a string, got an empty value (null)`},
		{"dir int", "secrets:\n  deliver: file\n  dir: 5\n", `f.yaml:3:8: secrets.dir: expected a string, got the integer 5`},
		{"dir NUL", "secrets:\n  deliver: file\n  dir: \"/a\\0b\"\n", `f.yaml:3:8: secrets.dir: path "/a\x00b" has a control character at position 3: '\x00' (U+0000)`},
		{"dir newline", "secrets:\n  deliver: file\n  dir: \"/a\\nb\"\n", `f.yaml:3:8: secrets.dir: path "/a\nb" has a control character at position 3: '\n' (U+000A)`},
		{"dir bidi", "secrets:\n  deliver: file\n  dir: \"/a\\u202eb\"\n", `f.yaml:3:8: secrets.dir: path "/a\u202eb" has a format (invisible) character at position 3: '\u202e' (U+202E)`},
		{"dir too long", "secrets:\n  deliver: file\n  dir: /" + strings.Repeat("d", MaxSecretsDirLength) + "\n", `f.yaml:3:8: secrets.dir: path "/` + strings.Repeat("d", 79) + `"…(+4017 chars) is 4097 bytes long; the maximum is 4096`},
		{"secrets unknown", "secrets:\n  directory: /x\n", `f.yaml:2:3: unknown field "directory" in secrets (known: deliver, dir)`},
		{"secrets scalar", "secrets: file\n", `f.yaml:1:10: secrets: expected a mapping of fields, got the string "file"`},
		{"audit string", "audit:\n  required: \"yes\"\n", `f.yaml:2:13: audit.required: expected true or false, got the string "yes"`},
		{"audit unknown", "audit:\n  require: true\n", `f.yaml:2:3: unknown field "require" in audit (did you mean "required"?)`},
		{"audit bool", "audit: true\n", `f.yaml:1:8: audit: expected a mapping of fields, got the boolean true`},
		{"only_minted int", "revoke:\n  only_minted: 0\n", `f.yaml:2:16: revoke.only_minted: expected true or false, got the integer 0`},
		{"only_minted typo", "revoke:\n  only_mint: true\n", `f.yaml:2:3: unknown field "only_mint" in revoke (did you mean "only_minted"?)`},
		{"duplicate", "tags:\n  allow: [a]\n  allow: [b]\n", `f.yaml:3:3: duplicate field "allow" in tags (first at line 2)`},
		{"duplicate top", "keys: {}\nkeys: {}\n", `f.yaml:2:1: duplicate field "keys" (first at line 1)`},
		{"yes is a string", "tags:\n  allow_new: yes\n", `f.yaml:2:14: tags.allow_new: expected true or false, got the string "yes"`},
		{"quoted bool", "revoke:\n  enabled: \"true\"\n", `f.yaml:2:12: revoke.enabled: expected true or false, got the string "true"`},
		{"bool as int", "revoke:\n  only_prefixed: 1\n", `f.yaml:2:18: revoke.only_prefixed: expected true or false, got the integer 1`},
		{"tagged bool", "revoke:\n  enabled: !!bool yes\n", `f.yaml:2:12: revoke.enabled: expected true or false, got the boolean yes`},
		{"string for int", "keys:\n  max_expiry_days: \"30\"\n", `f.yaml:2:20: keys.max_expiry_days: expected an integer, got the string "30"`},
		{"float", "keys:\n  max_expiry_days: 30.5\n", `f.yaml:2:20: keys.max_expiry_days: expected a whole number written in decimal digits, got the number 30.5`},
		{"float whole", "keys:\n  max_expiry_days: 30.0\n", `f.yaml:2:20: keys.max_expiry_days: expected a whole number written in decimal digits, got the number 30.0`},
		{"hex", "keys:\n  max_rate_limit: 0x10\n", `f.yaml:2:19: keys.max_rate_limit: expected a whole number written in decimal digits, got the integer 0x10`},
		{"underscore", "keys:\n  max_rate_limit: 1_000\n", `f.yaml:2:19: keys.max_rate_limit: expected a whole number written in decimal digits, got the integer 1_000`},
		{"plus sign", "keys:\n  max_rate_limit: +5\n", `f.yaml:2:19: keys.max_rate_limit: expected a whole number written in decimal digits, got the integer +5`},
		{"leading zero", "keys:\n  max_expiry_days: 030\n", `f.yaml:2:20: keys.max_expiry_days: "030" has a leading zero; write the number without it`},
		{"huge", "keys:\n  max_rate_limit: 99999999999999999999\n", `f.yaml:2:19: keys.max_rate_limit: expected a whole number written in decimal digits, got the number 99999999999999999999`},
		{"null int", "keys:\n  max_rate_limit:\n", `f.yaml:2:18: keys.max_rate_limit: expected an integer, got an empty value (null)`},
		{"list for int", "keys:\n  max_rate_limit: [1]\n", `f.yaml:2:19: keys.max_rate_limit: expected an integer, got a list`},
		{"max_expiry over ceiling", "keys:\n  max_expiry_days: 400\n", `f.yaml:2:20: keys.max_expiry_days: 400 is out of range; it must be 1..365`},
		{"max_expiry zero", "keys:\n  max_expiry_days: 0\n", `f.yaml:2:20: keys.max_expiry_days: 0 is out of range; it must be 1..365`},
		{"default_expiry negative", "keys:\n  default_expiry_days: -1\n", `f.yaml:2:24: keys.default_expiry_days: -1 is out of range; it must be 1..365`},
		{"default above max", "keys:\n  default_expiry_days: 60\n  max_expiry_days: 45\n", `f.yaml:2:24: keys.default_expiry_days: 60 is above keys.max_expiry_days (45)`},
		{"max below built-in default", "keys:\n  max_expiry_days: 7\n", `f.yaml:2:20: keys.max_expiry_days: 7 is below the built-in default_expiry_days (30); set keys.default_expiry_days too`},
		{"rate over", "keys:\n  max_rate_limit: 10001\n", `f.yaml:2:19: keys.max_rate_limit: 10001 is out of range; it must be 1..10000`},
		{"window over", "keys:\n  max_rate_window_ms: 3600001\n", `f.yaml:2:23: keys.max_rate_window_ms: 3600001 is out of range; it must be 1..3600000`},
		{"window zero", "keys: {max_rate_window_ms: 0}\n", `f.yaml:1:28: keys.max_rate_window_ms: 0 is out of range; it must be 1..3600000`},
		{"prefix int", "keys:\n  name_prefix: 7\n", `f.yaml:2:16: keys.name_prefix: expected a string, got the integer 7`},
		{"prefix too long", "keys:\n  name_prefix: \"" + strings.Repeat("p", 51) + "\"\n", `f.yaml:2:16: keys.name_prefix: name_prefix "` + strings.Repeat("p", 51) + `" is 51 characters long; the maximum is 50`},
		{"prefix control", "keys:\n  name_prefix: \"a\\tb\"\n", `f.yaml:2:16: keys.name_prefix: name_prefix "a\tb" has a control character at position 2: '\t' (U+0009)`},
		{"prefix format char", "keys:\n  name_prefix: \"a\\u200eb\"\n", `f.yaml:2:16: keys.name_prefix: name_prefix "a\u200eb" has a format (invisible) character at position 2: '\u200e' (U+200E)`},
		{"bad pattern", "tags:\n  allow: [\"proj prod\"]\n", `f.yaml:2:11: tags.allow: pattern "proj prod" has a character that is not allowed at position 5: ' ' (U+0020); ` + patternRule},
		{"bad deny pattern", "tags:\n  deny:\n    - \"x/y\"\n", `f.yaml:3:7: tags.deny: pattern "x/y" has a character that is not allowed at position 2: '/' (U+002F); ` + patternRule},
		{"empty pattern", "tags:\n  allow: [\"\"]\n", `f.yaml:2:11: tags.allow: pattern is empty`},
		{"int pattern", "tags:\n  allow: [123]\n", `f.yaml:2:11: tags.allow: expected a pattern (a string), got the integer 123; put it in quotes`},
		{"nested list pattern", "tags:\n  allow: [[a]]\n", `f.yaml:2:11: tags.allow: expected a pattern (a string), got a list`},
		{"string for list", "tags:\n  allow: proj-*\n", `f.yaml:2:10: tags.allow: expected a list of patterns, got the string "proj-*"`},
		{"null list", "tags:\n  allow:\n", `f.yaml:2:9: tags.allow: expected a list of patterns, got an empty value (null) (write [] for none)`},
		{"null section", "tags:\n", `f.yaml:1:6: tags: expected a mapping of fields, got an empty value (null) (write {} for an empty section)`},
		{"list section", "revoke: [enabled]\n", `f.yaml:1:9: revoke: expected a mapping of fields, got a list`},
		{"top-level list", "- a\n", `f.yaml:1:1: the policy: expected a mapping of fields, got a list`},
		{"top-level string", "hello\n", `f.yaml:1:1: the policy: expected a mapping of fields, got the string "hello"`},
		{"version 2", "version: 2\n", `f.yaml:1:10: version: unsupported policy version 2; this mcp-keys reads version 1`},
		{"version string", "version: \"1\"\n", `f.yaml:1:10: version: expected an integer, got the string "1"`},
		{"anchor", "tags:\n  allow: &a [x]\n  deny: *a\n", "f.yaml:2:10: anchors are not allowed in a policy (&a)\nf.yaml:3:9: aliases are not allowed in a policy (*a)"},
		{"merge key", "tags:\n  <<: {allow: [a]}\n", `f.yaml:2:3: unknown field "<<" in tags (known: allow, allow_new, deny, read_only)`},
		{"two documents", "tags: {}\n---\nkeys: {}\n", `f.yaml:2:1: a second YAML document; a policy file holds exactly one (remove the "---")`},
		{"syntax", "tags:\n  allow: [a\nkeys: {}\n", `f.yaml:2: invalid YAML: did not find expected ',' or ']'`},
		{"syntax first line", ":\n", `f.yaml:1: invalid YAML: did not find expected key`},
		{"syntax block mapping", "tags:\n  allow: []\n deny: []\n", `f.yaml:3: invalid YAML: did not find expected key`},
		{"bad indentation", "tags:\n  allow: []\n    deny: []\n", `f.yaml:2: invalid YAML: did not find expected key`},
		{"mapping in scalar", "tags:\n  allow: a: b\n", `f.yaml:2: invalid YAML: mapping values are not allowed in this context`},
		{"tab indent", "tags:\n\tallow: []\n", `f.yaml:2: invalid YAML: found character that cannot start any token`},
		{"custom tag", "tags:\n  allow_new: !maybe true\n", `f.yaml:2:14: tags.allow_new: expected true or false, got a value tagged "!maybe"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse("f.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("Parse succeeded (%+v), want error %s", p.Tags, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse error\n got %s\nwant %s", err, tt.want)
			}
			var le *LoadError
			if !errors.As(err, &le) || le.File != "f.yaml" {
				t.Errorf("error is not a *LoadError for f.yaml: %#v", err)
			}
		})
	}
}

func TestParseSeveralErrors(t *testing.T) {
	src := "keys:\n  max_rate_limit: 0\ntags:\n  allow: [\"a b\", ok, 5]\n  allow_new: no\nbogus: 1\n"
	_, err := Parse("f.yaml", []byte(src))
	if err == nil {
		t.Fatal("Parse succeeded")
	}
	want := []string{
		"f.yaml:2:19: keys.max_rate_limit: 0 is out of range; it must be 1..10000",
		`f.yaml:4:11: tags.allow: pattern "a b" has a character`,
		"f.yaml:4:22: tags.allow: expected a pattern (a string), got the integer 5; put it in quotes",
		`f.yaml:5:14: tags.allow_new: expected true or false, got the string "no"`,
		`f.yaml:6:1: unknown field "bogus"`,
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), err)
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]) {
			t.Errorf("line %d\n got %s\nwant prefix %s", i+1, lines[i], want[i])
		}
	}
	var le *LoadError
	if !errors.As(err, &le) || le.Line != 2 || le.Col != 19 {
		t.Errorf("errors.As gave %#v, want the first problem (2:19)", le)
	}
}

func TestParseErrorCap(t *testing.T) {
	var b strings.Builder
	b.WriteString("tags:\n  allow:\n")
	for range 30 {
		b.WriteString("    - \"bad pattern\"\n")
	}
	_, err := Parse("f.yaml", []byte(b.String()))
	if err == nil {
		t.Fatal("Parse succeeded")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != maxErrors+1 {
		t.Fatalf("got %d lines, want %d", len(lines), maxErrors+1)
	}
	if last := lines[len(lines)-1]; last != "f.yaml: 10 more problems not shown" {
		t.Errorf("last line = %q", last)
	}
}

func TestParseTooManyPatterns(t *testing.T) {
	var b strings.Builder
	b.WriteString("tags:\n  deny:\n")
	for range MaxPatterns + 1 {
		b.WriteString("    - a\n")
	}
	_, err := Parse("f.yaml", []byte(b.String()))
	const want = "f.yaml:3:5: tags.deny: 10001 patterns; at most 10000 are allowed"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

func TestParseTooLarge(t *testing.T) {
	data := []byte("# " + strings.Repeat("x", MaxFileSize) + "\n")
	_, err := Parse("f.yaml", data)
	if err == nil || !strings.HasPrefix(err.Error(), "f.yaml: is 1048579 bytes; the maximum is 1048576") {
		t.Errorf("got %v", err)
	}
}

func TestParseValid(t *testing.T) {
	def := Default()
	tests := []struct {
		name   string
		src    string
		tags   TagRules
		keys   KeyRules
		revoke RevokeRules
	}{
		{"empty", "", def.Tags, def.Keys, def.Revoke},
		{"comments only", "# nothing here\n", def.Tags, def.Keys, def.Revoke},
		{"document marker", "---\n", def.Tags, def.Keys, def.Revoke},
		{"null document", "~\n", def.Tags, def.Keys, def.Revoke},
		{"version only", "version: 1\n", def.Tags, def.Keys, def.Revoke},
		{"empty sections", "tags: {}\nkeys: {}\nrevoke: {}\n", def.Tags, def.Keys, def.Revoke},
		{
			"flow style and capitalised booleans",
			"tags: {allow: ['a*'], deny: [], allow_new: False}\nrevoke: {enabled: FALSE, only_prefixed: True}\n",
			TagRules{Allow: []string{"a*"}, Deny: []string{}},
			def.Keys,
			RevokeRules{Enabled: false, OnlyPrefixed: true, OnlyMinted: true},
		},
		{
			"keys",
			"keys:\n  name_prefix: \"\"\n  default_expiry_days: 365\n  max_expiry_days: 365\n  max_rate_limit: 10000\n  max_rate_window_ms: 1\n",
			def.Tags,
			KeyRules{NamePrefix: "", DefaultExpiryDays: 365, MaxExpiryDays: 365, MaxRateLimit: 10000, MaxRateWindowMs: 1},
			def.Revoke,
		},
		{
			"unicode prefix and quoted key",
			"\"keys\":\n  name_prefix: \"bot é \"\n  max_expiry_days: 30\n",
			def.Tags,
			KeyRules{NamePrefix: "bot é ", DefaultExpiryDays: 30, MaxExpiryDays: 30, MaxRateLimit: 1000, MaxRateWindowMs: 3600000},
			def.Revoke,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, tt.src)
			if !sameSettings(p, &Policy{Tags: tt.tags, Keys: p.Keys, Revoke: p.Revoke, Quota: p.Quota, Confirm: p.Confirm, Secrets: p.Secrets, Audit: p.Audit, Access: p.Access, Rotate: p.Rotate}) {
				t.Errorf("Tags = %+v, want %+v", p.Tags, tt.tags)
			}
			if p.Keys != tt.keys {
				t.Errorf("Keys = %+v, want %+v", p.Keys, tt.keys)
			}
			if p.Revoke != tt.revoke {
				t.Errorf("Revoke = %+v, want %+v", p.Revoke, tt.revoke)
			}
			if got, want := p.DeniesAllWrites(), len(tt.tags.Allow) == 0; got != want {
				t.Errorf("DeniesAllWrites = %v, want %v", got, want)
			}
		})
	}
}

func TestParseGuardrails(t *testing.T) {
	def := builtinGuardrails
	tests := []struct {
		name   string
		src    string
		want   guardrails
		revoke RevokeRules
	}{
		{"absent", "version: 1\n", def, defaultRevoke()},
		{"empty sections", "quota: {}\nconfirm: {}\nsecrets: {}\naudit: {}\n", def, defaultRevoke()},
		{"hour only", "quota: {max_keys_per_hour: 10}\n", guardrails{QuotaRules{MaxKeysPerHour: 10}, def.Confirm, def.Secrets, def.Audit}, defaultRevoke()},
		{"day only", "quota: {max_keys_per_day: 50}\n", guardrails{QuotaRules{MaxKeysPerDay: 50}, def.Confirm, def.Secrets, def.Audit}, defaultRevoke()},
		{"hour equals day", "quota: {max_keys_per_hour: 7, max_keys_per_day: 7}\n", guardrails{QuotaRules{7, 7}, def.Confirm, def.Secrets, def.Audit}, defaultRevoke()},
		{"ceilings", "quota: {max_keys_per_hour: 10000, max_keys_per_day: 100000}\n", guardrails{QuotaRules{10000, 100000}, def.Confirm, def.Secrets, def.Audit}, defaultRevoke()},
		{"confirm shorthand", "confirm: if-supported\n", guardrails{def.Quota, ConfirmRules{ConfirmIfSupported, ConfirmIfSupported}, def.Secrets, def.Audit}, defaultRevoke()},
		{"confirm quoted shorthand", "confirm: \"always\"\n", guardrails{def.Quota, ConfirmRules{ConfirmAlways, ConfirmAlways}, def.Secrets, def.Audit}, defaultRevoke()},
		{"confirm per action", "confirm:\n  create: always\n  revoke: if-supported\n", guardrails{def.Quota, ConfirmRules{ConfirmAlways, ConfirmIfSupported}, def.Secrets, def.Audit}, defaultRevoke()},
		{"confirm one action", "confirm: {revoke: always}\n", guardrails{def.Quota, ConfirmRules{ConfirmNever, ConfirmAlways}, def.Secrets, def.Audit}, defaultRevoke()},
		{"deliver chat", "secrets: {deliver: chat}\n", def, defaultRevoke()},
		{"deliver file", "secrets:\n  deliver: file\n  dir: /home/me/.config/mcp-keys/keys\n", guardrails{def.Quota, def.Confirm, SecretsRules{DeliverFile, "/home/me/.config/mcp-keys/keys"}, def.Audit}, defaultRevoke()},
		{"dir before deliver", "secrets: {dir: \"/x y/é\", deliver: file}\n", guardrails{def.Quota, def.Confirm, SecretsRules{DeliverFile, "/x y/é"}, def.Audit}, defaultRevoke()},
		{"audit off", "audit: {required: false}\n", guardrails{def.Quota, def.Confirm, def.Secrets, AuditRules{false}}, defaultRevoke()},
		{"only_minted off", "revoke: {only_minted: false}\n", def, RevokeRules{Enabled: true, OnlyPrefixed: true, OnlyMinted: false}},
		{"only_minted on, prefix off", "revoke: {only_prefixed: false, only_minted: true}\n", def, RevokeRules{Enabled: true, OnlyPrefixed: false, OnlyMinted: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, tt.src)
			if got := guardrailsOf(p); got != tt.want {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
			if p.Revoke != tt.revoke {
				t.Errorf("Revoke = %+v, want %+v", p.Revoke, tt.revoke)
			}
		})
	}
}

func TestFromAllowedTags(t *testing.T) {
	tests := []struct {
		list    string
		allow   []string
		wantErr string
	}{
		{"proj-*", []string{"proj-*"}, ""},
		{"a, b ,c", []string{"a", "b", "c"}, ""},
		{" a ,, ,b,", []string{"a", "b"}, ""},
		{"", nil, "MCP_KEYS_ALLOWED_TAGS: no pattern given; set it to comma-separated tag patterns such as proj-*,user_*, or unset it"},
		{"proj-*,bad tag", nil, `MCP_KEYS_ALLOWED_TAGS: item 2: pattern "bad tag" has a character that is not allowed at position 4: ' ' (U+0020); ` + patternRule},
		{"a\u200b", nil, `MCP_KEYS_ALLOWED_TAGS: item 1: pattern "a\u200b" has a character that is not allowed at position 2: '\u200b' (U+200B); ` + patternRule},
		{"x/y,a b", nil, "MCP_KEYS_ALLOWED_TAGS: item 1: pattern \"x/y\" has a character that is not allowed at position 2: '/' (U+002F); " + patternRule +
			"\nMCP_KEYS_ALLOWED_TAGS: item 2: pattern \"a b\" has a character that is not allowed at position 2: ' ' (U+0020); " + patternRule},
	}
	for _, tt := range tests {
		p, err := FromAllowedTags(tt.list)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("FromAllowedTags(%q) error\n got %v\nwant %s", tt.list, err, tt.wantErr)
			}
			var le *LoadError
			if err != nil && !errors.As(err, &le) {
				t.Errorf("FromAllowedTags(%q): error is not a *LoadError", tt.list)
			}
			continue
		}
		if err != nil {
			t.Errorf("FromAllowedTags(%q): %v", tt.list, err)
			continue
		}
		if !reflect.DeepEqual(p.Tags.Allow, tt.allow) && len(p.Tags.Allow)+len(tt.allow) > 0 {
			t.Errorf("FromAllowedTags(%q).Tags.Allow = %q, want %q", tt.list, p.Tags.Allow, tt.allow)
		}
		if p.Source != SourceAllowedTags || p.Keys != defaultKeys() || p.Revoke != defaultRevoke() || !p.Tags.AllowNew || len(p.Tags.Deny) != 0 ||
			guardrailsOf(p) != builtinGuardrails || !p.Revoke.OnlyMinted {
			t.Errorf("FromAllowedTags(%q) = %+v, want built-in values besides tags.allow", tt.list, p)
		}
		if p.DeniesAllWrites() != (len(tt.allow) == 0) {
			t.Errorf("FromAllowedTags(%q).DeniesAllWrites() = %v", tt.list, p.DeniesAllWrites())
		}
	}
}

func TestEffectiveYAMLRoundTrip(t *testing.T) {
	design, err := os.ReadFile("testdata/design.yaml")
	if err != nil {
		t.Fatal(err)
	}
	short, err := FromAllowedTags("a*,b?")
	if err != nil {
		t.Fatal(err)
	}
	policies := map[string]*Policy{
		"design":  mustParse(t, string(design)),
		"default": Default(),
		"short":   short,
		"custom":  mustParse(t, "tags: {allow: ['*'], allow_new: false}\nkeys: {name_prefix: 'q\"\\\\ é', max_expiry_days: 7, default_expiry_days: 7, max_rate_limit: 100}\nrevoke: {enabled: false, only_prefixed: false}\n"),
		"guardrails": mustParse(t, "revoke: {only_minted: false}\nquota: {max_keys_per_hour: 3, max_keys_per_day: 9}\nconfirm: {create: always, revoke: if-supported}\n"+
			"secrets: {deliver: file, dir: '/a \"b\" \\\\c/é'}\naudit: {required: false}\n"),
		"hour only": mustParse(t, "quota: {max_keys_per_hour: 1}\nconfirm: always\n"),
		"day only":  mustParse(t, "quota: {max_keys_per_day: 100000}\n"),
	}
	for name, p := range policies {
		t.Run(name, func(t *testing.T) {
			doc := p.EffectiveYAML()
			q, err := Parse("effective.yaml", doc)
			if err != nil {
				t.Fatalf("Parse(EffectiveYAML): %v\n%s", err, doc)
			}
			if !sameSettings(p, q) {
				t.Errorf("round trip changed the policy:\n%+v\n%+v\n%s", p, q, doc)
			}
		})
	}
	if got := string(Default().EffectiveYAML()); !strings.Contains(got, "# "+noPolicyText+"\n") {
		t.Errorf("default EffectiveYAML does not say there is no policy:\n%s", got)
	}
}

// sameSettings compares the settings of two policies, nil and empty lists
// alike.
func sameSettings(a, b *Policy) bool {
	eq := func(x, y []string) bool { return len(x) == 0 && len(y) == 0 || reflect.DeepEqual(x, y) }
	if len(a.Callers) != len(b.Callers) {
		return false
	}
	for i := range a.Callers {
		x, y := a.Callers[i], b.Callers[i]
		if x.Match != y.Match || x.Keys != y.Keys || x.Quota != y.Quota || x.Scope != y.Scope || x.Tags.AllowSet != y.Tags.AllowSet ||
			!eq(x.Tags.Allow, y.Tags.Allow) || !eq(x.Tags.Deny, y.Tags.Deny) || !eq(x.Tags.ReadOnly, y.Tags.ReadOnly) {
			return false
		}
	}
	return eq(a.Tags.Allow, b.Tags.Allow) && eq(a.Tags.Deny, b.Tags.Deny) && eq(a.Tags.ReadOnly, b.Tags.ReadOnly) && a.Tags.AllowNew == b.Tags.AllowNew &&
		a.Keys == b.Keys && a.Revoke == b.Revoke && guardrailsOf(a) == guardrailsOf(b) && a.Access == b.Access && a.Rotate == b.Rotate
}

func TestSummary(t *testing.T) {
	if got := Default().Summary(); got != "no policy: every create and revoke is refused; set MCP_KEYS_POLICY or MCP_KEYS_ALLOWED_TAGS" {
		t.Errorf("Default().Summary() = %q", got)
	}
	data, err := os.ReadFile("testdata/design.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := `policy from "design.yaml"
allowed tags: "proj-*", "user_*", "team:search"
denied tags (any case; deny beats allow): "proj-prod*"
new tags: allowed (minting a key for a new tag creates a tenant)
key names: prefix "agent-", printable, at most 100 characters
expiry: default 30 days, at most 90; keys that never expire are refused
rate limit: at most 1000 requests per window (default 500); window at most 3600000 ms (default 60000)
tags per key: 1 to 10; permission read or write (default write)
leases: optional, 1 to 1440 minutes (a leased key is minted for 1 day and revoked by mcp-keys when the lease ends)
revoke: scoped keys whose tags are all allowed, whose name starts with "agent-", and that the audit log records as minted through mcp-keys
rotate: enabled; the old key may live on for at most 60 minutes; confirmed like the stricter of create and revoke
quota: none
confirmation by a person: create never asked; revoke never asked
new keys: shown once in the chat
audit: required (a create or revoke whose record cannot be written first is refused)
callers: no callers section (in HTTP mode every caller gets this policy, revoke scope own)
full access: never granted and never revoked (built in; no setting changes it)`
	p, err := Parse("design.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Summary(); got != want {
		t.Errorf("Summary\n got %s\nwant %s", got, want)
	}
	other := mustParse(t, "tags: {allow_new: false}\nkeys: {max_rate_limit: 100, max_rate_window_ms: 1000}\nrevoke: {only_prefixed: false, only_minted: false}\n"+
		"quota: {max_keys_per_hour: 10, max_keys_per_day: 50}\nconfirm: {create: always, revoke: if-supported}\nsecrets: {deliver: file, dir: /home/me/keys/}\naudit: {required: false}\n").Summary()
	for _, line := range []string{
		"allowed tags: none, so every create and revoke is refused",
		"denied tags: none",
		"new tags: refused (only tags that already exist)",
		"rate limit: at most 100 requests per window (default 100); window at most 1000 ms (default 1000)",
		"revoke: scoped keys whose tags are all allowed\n",
		"quota: at most 10 keys per hour and 50 per day (rolling, counted from the audit log)\n",
		"confirmation by a person: create always asked (refused when the client cannot ask); revoke asked when the client supports it\n",
		`new keys: written to "/home/me/keys/<key-id>.env", not shown in the chat` + "\n",
		"audit: best effort (a create or revoke goes ahead even if its record cannot be written)\n",
	} {
		if !strings.Contains(other, line) {
			t.Errorf("Summary lacks %q:\n%s", line, other)
		}
	}
	for src, line := range map[string]string{
		"revoke: {only_prefixed: false}\n": "revoke: scoped keys whose tags are all allowed and that the audit log records as minted through mcp-keys\n",
		"revoke: {only_minted: false}\n":   `revoke: scoped keys whose tags are all allowed and whose name starts with "agent-"` + "\n",
		"quota: {max_keys_per_hour: 3}\n":  "quota: at most 3 keys per hour (rolling, counted from the audit log)\n",
		"quota: {max_keys_per_day: 30}\n":  "quota: at most 30 keys per day (rolling, counted from the audit log)\n",
	} {
		if got := mustParse(t, "tags: {allow: [a]}\n"+src).Summary(); !strings.Contains(got, line) {
			t.Errorf("Summary of %q lacks %q:\n%s", src, line, got)
		}
	}
	if got := mustParse(t, "tags: {allow: [a]}\nrevoke: {enabled: false}\n").Summary(); !strings.Contains(got, "revoke: disabled\n") {
		t.Errorf("Summary lacks revoke: disabled:\n%s", got)
	}
}

func TestDefault(t *testing.T) {
	p := Default()
	if p.Source != "built-in default (deny all)" {
		t.Errorf("Source = %q", p.Source)
	}
	if !p.DeniesAllWrites() {
		t.Error("Default().DeniesAllWrites() = false")
	}
	if p.Keys != defaultKeys() || p.Revoke != defaultRevoke() || !p.Tags.AllowNew || guardrailsOf(p) != builtinGuardrails || !p.Revoke.OnlyMinted {
		t.Errorf("Default() = %+v, want built-in values", p)
	}
}
