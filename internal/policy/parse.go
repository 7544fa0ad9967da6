package policy

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize is the largest policy file (or document) accepted.
const MaxFileSize = 1 << 20

// maxErrors caps how many problems one Parse reports.
const maxErrors = 20

// LoadError is a problem with a policy: the file (or "MCP_KEYS_ALLOWED_TAGS"),
// the 1-based line and column of the offending key or value when known, and
// a message.
type LoadError struct {
	File string
	Line int // 0 when unknown
	Col  int // 0 when unknown
	Msg  string
	// Err is the underlying error, if any (an *fs.PathError, say).
	Err error
}

// Error returns "FILE:LINE:COL: message", "FILE:LINE: message" when only the
// line is known, or "FILE: message".
func (e *LoadError) Error() string {
	switch {
	case e.Line > 0 && e.Col > 0:
		return e.File + ":" + strconv.Itoa(e.Line) + ":" + strconv.Itoa(e.Col) + ": " + e.Msg
	case e.Line > 0:
		return e.File + ":" + strconv.Itoa(e.Line) + ": " + e.Msg
	}
	return e.File + ": " + e.Msg
}

// Unwrap returns the underlying error.
func (e *LoadError) Unwrap() error { return e.Err }

// Parse reads a policy from YAML, strictly: an unknown or duplicate field, a
// value of the wrong type, a bad pattern or a limit out of range is an error.
// An empty document is the built-in default (no allow pattern: every write is
// refused). Several documents, anchors and aliases are refused. The error is
// a *LoadError, or when there are several problems (up to 20) all of them
// joined with errors.Join, one "FILE:LINE:COL: message" per line, in order of
// position. filename is used in messages and as the policy's Source.
func Parse(filename string, data []byte) (*Policy, error) {
	if filename == "" {
		filename = "policy"
	}
	d := &decoder{file: filename, values: make(map[string]*yaml.Node)}
	s := defaultSettings()
	if len(data) > MaxFileSize {
		return nil, &LoadError{File: filename, Msg: fmt.Sprintf("is %d bytes; the maximum is %d (1 MiB)", len(data), MaxFileSize)}
	}
	root, err := decodeSingle(filename, data)
	if err != nil {
		return nil, err
	}
	if root != nil {
		d.checkNoAnchors(root)
		if len(d.errs) == 0 {
			d.walk(root, &s)
		}
	}
	if d.values["rotate.enabled"] == nil {
		s.rotate.Enabled = s.revoke.Enabled // the default follows revoke.enabled
	}
	if len(d.errs) == 0 {
		d.crossCheck(&s)
	}
	if len(d.errs) > 0 {
		return nil, d.err()
	}
	p, err := newPolicy(filename, s)
	if err != nil { // unreachable: the walker checks the same rules with positions
		return nil, &LoadError{File: filename, Msg: err.Error()}
	}
	return p, nil
}

// decodeSingle parses data as at most one YAML document and returns its root
// value, or nil for an empty document.
func decodeSingle(filename string, data []byte) (root *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil { // the YAML parser is third-party code
			root, err = nil, &LoadError{File: filename, Msg: fmt.Sprintf("invalid YAML: parser failure: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, yamlError(filename, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, &LoadError{File: filename, Line: next.Line, Col: next.Column,
			Msg: "a second YAML document; a policy file holds exactly one (remove the \"---\")"}
	case !errors.Is(err, io.EOF):
		return nil, yamlError(filename, err)
	}
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil, nil
		}
		return doc.Content[0], nil
	}
	return &doc, nil
}

// parserProblems are the problems the YAML parser (as opposed to its
// scanner) reports. For them the YAML library prints a 0-based line (of the
// enclosing structure, or of the problem when that structure starts on the
// first line), and no line at all for the first line; scanner errors come
// with the 1-based line of the problem.
var parserProblems = map[string]bool{
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected node content":     true,
	"found undefined tag handle":             true,
	"did not find expected <document start>": true,
	"found incompatible YAML document":       true,
	"found duplicate %YAML directive":        true,
	"found duplicate %TAG directive":         true,
}

// yamlError turns a YAML syntax error ("yaml: line 3: did not find expected
// key") into a *LoadError. The YAML library gives the line but not the column.
func yamlError(filename string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil && n > 0 {
				line, msg = n, tail
			}
		}
	}
	if parserProblems[msg] {
		line++
	}
	return &LoadError{File: filename, Line: line, Msg: "invalid YAML: " + msg, Err: err}
}

// fieldFunc decodes the value of one field; path is its dotted name
// ("keys.max_expiry_days").
type fieldFunc func(d *decoder, path string, v *yaml.Node, s *settings)

// topFields are the top-level fields. A new section takes one line here and
// a table of its fields below.
var topFields = map[string]fieldFunc{
	"version": decodeVersion,
	"tags":    section(tagFields),
	"keys":    section(keyFields),
	"revoke":  section(revokeFields),
	"quota":   section(quotaFields),
	"confirm": decodeConfirm,
	"secrets": section(secretsFields),
	"audit":   section(auditFields),
	"rotate":  section(rotateFields),
	"callers": decodeCallers,
}

var tagFields = map[string]fieldFunc{
	"allow": func(d *decoder, path string, v *yaml.Node, s *settings) {
		s.tags.Allow = d.patterns(path, v)
	},
	"deny": func(d *decoder, path string, v *yaml.Node, s *settings) {
		s.tags.Deny = d.patterns(path, v)
	},
	"allow_new": func(d *decoder, path string, v *yaml.Node, s *settings) {
		d.boolean(path, v, &s.tags.AllowNew)
	},
	"read_only": func(d *decoder, path string, v *yaml.Node, s *settings) {
		s.tags.ReadOnly = d.patterns(path, v)
	},
}

var keyFields = map[string]fieldFunc{
	"name_prefix": func(d *decoder, path string, v *yaml.Node, s *settings) {
		str, ok := d.str(path, v)
		if !ok {
			return
		}
		if err := checkPrefix(str); err != nil {
			d.errorf(v, "%s: %v", path, err)
			return
		}
		s.keys.NamePrefix = str
	},
	"default_expiry_days": intField(func(s *settings) *int { return &s.keys.DefaultExpiryDays }, 1, CeilingExpiryDays),
	"max_expiry_days":     intField(func(s *settings) *int { return &s.keys.MaxExpiryDays }, 1, CeilingExpiryDays),
	"max_rate_limit":      intField(func(s *settings) *int { return &s.keys.MaxRateLimit }, 1, CeilingRateLimit),
	"max_rate_window_ms":  intField(func(s *settings) *int { return &s.keys.MaxRateWindowMs }, 1, CeilingRateWindowMs),
	"max_tags":            intField(func(s *settings) *int { return &s.access.MaxTags }, 1, CeilingTags),
	"max_lease_minutes":   intField(func(s *settings) *int { return &s.access.MaxLeaseMinutes }, 1, CeilingLeaseMinutes),
	"default_permission": func(d *decoder, path string, v *yaml.Node, s *settings) {
		if w, ok := d.word(path, v, []string{PermissionRead, PermissionWrite}, permissionsText); ok {
			s.access.DefaultPermission = w
		}
	},
	"require_lease": func(d *decoder, path string, v *yaml.Node, s *settings) {
		d.boolean(path, v, &s.access.RequireLease)
	},
	"assume_write_permission": func(d *decoder, path string, v *yaml.Node, s *settings) {
		d.boolean(path, v, &s.access.AssumeWritePermission)
	},
}

var rotateFields = map[string]fieldFunc{
	"enabled": func(d *decoder, path string, v *yaml.Node, s *settings) {
		d.boolean(path, v, &s.rotate.Enabled)
	},
	"max_grace_minutes": intField(func(s *settings) *int { return &s.rotate.MaxGraceMinutes }, 0, CeilingGraceMinutes),
}

var revokeFields = map[string]fieldFunc{
	"enabled": func(d *decoder, path string, v *yaml.Node, s *settings) {
		d.boolean(path, v, &s.revoke.Enabled)
	},
	"only_prefixed": func(d *decoder, path string, v *yaml.Node, s *settings) {
		d.boolean(path, v, &s.revoke.OnlyPrefixed)
	},
	"only_minted": func(d *decoder, path string, v *yaml.Node, s *settings) {
		d.boolean(path, v, &s.revoke.OnlyMinted)
	},
}

var quotaFields = map[string]fieldFunc{
	"max_keys_per_hour": intField(func(s *settings) *int { return &s.quota.MaxKeysPerHour }, 1, CeilingKeysPerHour),
	"max_keys_per_day":  intField(func(s *settings) *int { return &s.quota.MaxKeysPerDay }, 1, CeilingKeysPerDay),
}

var confirmFields = map[string]fieldFunc{
	"create": func(d *decoder, path string, v *yaml.Node, s *settings) {
		if m, ok := d.confirmMode(path, v); ok {
			s.confirm.Create = m
		}
	},
	"revoke": func(d *decoder, path string, v *yaml.Node, s *settings) {
		if m, ok := d.confirmMode(path, v); ok {
			s.confirm.Revoke = m
		}
	},
}

// decodeConfirm decodes the confirm section: a mode for both actions
// ("confirm: always") or a mapping with one per action.
func decodeConfirm(d *decoder, path string, v *yaml.Node, s *settings) {
	if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str" {
		if m, ok := d.confirmMode(path, v); ok {
			s.confirm = ConfirmRules{Create: m, Revoke: m}
		}
		return
	}
	if v.Kind != yaml.MappingNode {
		d.errorf(v, "%s: expected one of %s, or a mapping with create and revoke, got %s", path, confirmModesText, describe(v))
		return
	}
	d.mapping(path, v, confirmFields, s)
}

var secretsFields = map[string]fieldFunc{
	"deliver": func(d *decoder, path string, v *yaml.Node, s *settings) {
		if w, ok := d.word(path, v, []string{DeliverChat, DeliverFile}, deliverText); ok {
			s.secrets.Deliver = w
		}
	},
	"dir": func(d *decoder, path string, v *yaml.Node, s *settings) {
		str, ok := d.str(path, v)
		if !ok {
			return
		}
		if err := checkSecretsDir(str); err != nil {
			d.errorf(v, "%s: %v", path, err)
			return
		}
		s.secrets.Dir = str
	},
}

var auditFields = map[string]fieldFunc{
	"required": func(d *decoder, path string, v *yaml.Node, s *settings) {
		d.boolean(path, v, &s.audit.Required)
	},
}

// section decodes a mapping whose fields are in fields.
func section(fields map[string]fieldFunc) fieldFunc {
	return func(d *decoder, path string, v *yaml.Node, s *settings) {
		d.mapping(path, v, fields, s)
	}
}

// intField decodes an integer in lo..hi.
func intField(dst func(*settings) *int, lo, hi int) fieldFunc {
	return func(d *decoder, path string, v *yaml.Node, s *settings) {
		if n, ok := d.intIn(path, v, lo, hi); ok {
			*dst(s) = n
		}
	}
}

// intIn decodes an integer in lo..hi.
func (d *decoder) intIn(path string, v *yaml.Node, lo, hi int) (int, bool) {
	n, ok := d.integer(path, v)
	if !ok {
		return 0, false
	}
	if n < lo || n > hi {
		d.errorf(v, "%s: %d is out of range; it must be %d..%d", path, n, lo, hi)
		return 0, false
	}
	return n, true
}

func decodeVersion(d *decoder, path string, v *yaml.Node, _ *settings) {
	n, ok := d.integer(path, v)
	if ok && n != 1 {
		d.errorf(v, "%s: unsupported policy version %d; this mcp-keys reads version 1", path, n)
	}
}

// decoder walks a YAML node tree and collects positioned errors.
type decoder struct {
	file   string
	errs   []*LoadError
	values map[string]*yaml.Node // dotted path → value node, for crossCheck
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, &LoadError{File: d.file, Line: n.Line, Col: n.Column, Msg: fmt.Sprintf(format, args...)})
}

// err returns the collected errors in order of position.
func (d *decoder) err() error {
	slices.SortStableFunc(d.errs, func(a, b *LoadError) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
	errs := make([]error, 0, min(len(d.errs), maxErrors)+1)
	for i, e := range d.errs {
		if i == maxErrors {
			errs = append(errs, &LoadError{File: d.file, Msg: fmt.Sprintf("%d more problems not shown", len(d.errs)-maxErrors)})
			break
		}
		errs = append(errs, e)
	}
	return joinErrors(errs)
}

// checkNoAnchors refuses anchors and aliases anywhere in the tree: a policy
// has no use for them, and they are how "billion laughs" documents grow.
func (d *decoder) checkNoAnchors(n *yaml.Node) {
	if n.Kind == yaml.AliasNode {
		d.errorf(n, "aliases are not allowed in a policy (*%s)", n.Value)
		return
	}
	if n.Anchor != "" {
		d.errorf(n, "anchors are not allowed in a policy (&%s)", n.Anchor)
	}
	for _, c := range n.Content {
		d.checkNoAnchors(c)
	}
}

// walk decodes the top-level value.
func (d *decoder) walk(root *yaml.Node, s *settings) {
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return // a document holding only null: same as empty
	}
	d.mapping("", root, topFields, s)
}

// mapping decodes a mapping field by field.
func (d *decoder) mapping(path string, v *yaml.Node, fields map[string]fieldFunc, s *settings) {
	decodeFields(d, path, v, fields, s)
}

// decodeFields decodes a mapping field by field into dst: an unknown field
// is reported with the closest known name, a duplicate with its first line.
func decodeFields[F ~func(*decoder, string, *yaml.Node, T), T any](d *decoder, path string, v *yaml.Node, fields map[string]F, dst T) {
	if v.Kind != yaml.MappingNode {
		where := path
		if where == "" {
			where = "the policy"
		}
		extra := ""
		if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" && path != "" {
			extra = " (write {} for an empty section)"
		}
		d.errorf(v, "%s: expected a mapping of fields, got %s%s", where, describe(v), extra)
		return
	}
	seen := make(map[string]*yaml.Node, len(v.Content)/2)
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "%s: a field name must be a plain word, got %s", orTop(path), describe(k))
			continue
		}
		// true:, 1:, null: and the like are names too, but never known ones.
		name := k.Value
		if first, dup := seen[name]; dup {
			d.errorf(k, "duplicate field %s%s (first at line %d)", Quote(name), inSection(path), first.Line)
			continue
		}
		seen[name] = k
		f, ok := fields[name]
		if !ok || k.ShortTag() != "!!str" {
			d.unknown(path, k, fieldNames(fields))
			continue
		}
		full := name
		if path != "" {
			full = path + "." + name
		}
		d.values[full] = val
		f(d, full, val, dst)
	}
}

// fieldNames returns the names of fields, sorted.
func fieldNames[F any](fields map[string]F) []string {
	known := make([]string, 0, len(fields))
	for f := range fields {
		known = append(known, f)
	}
	slices.Sort(known)
	return known
}

func orTop(path string) string {
	if path == "" {
		return "top level"
	}
	return path
}

func inSection(path string) string {
	if path == "" {
		return ""
	}
	return " in " + path
}

// unknown reports an unknown field, suggesting the closest known one.
func (d *decoder) unknown(path string, k *yaml.Node, known []string) {
	name := k.Value
	if best := closest(name, known); best != "" {
		d.errorf(k, "unknown field %s%s (did you mean %s?)", Quote(name), inSection(path), strconv.Quote(best))
		return
	}
	d.errorf(k, "unknown field %s%s (known: %s)", Quote(name), inSection(path), strings.Join(known, ", "))
}

// closest returns the known name nearest to name (a different case, or an
// edit distance of at most 2), or "".
func closest(name string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if strings.EqualFold(k, name) {
			return k
		}
		if dist := editDistance(name, k, bestDist); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, or limit when it is
// at least limit.
func editDistance(a, b string, limit int) int {
	if len(a) > 64 || len(a)-len(b) >= limit || len(b)-len(a) >= limit {
		return limit
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return min(prev[len(b)], limit)
}

// describe names what a node holds, for type errors.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	switch tag := n.ShortTag(); tag {
	case "!!null":
		return "an empty value (null)"
	case "!!str":
		return "the string " + Quote(n.Value)
	case "!!int":
		return "the integer " + bare(n.Value)
	case "!!float":
		return "the number " + bare(n.Value)
	case "!!bool":
		return "the boolean " + bare(n.Value)
	default:
		return "a value tagged " + Quote(tag)
	}
}

// bare returns a short word as is, anything else quoted.
func bare(s string) string {
	if q := Quote(s); len(s) <= 40 && q == `"`+s+`"` && !strings.ContainsAny(s, " #:") {
		return s
	}
	return Quote(s)
}

// boolean decodes true or false.
func (d *decoder) boolean(path string, v *yaml.Node, dst *bool) {
	if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!bool" {
		switch v.Value {
		case "true", "True", "TRUE":
			*dst = true
			return
		case "false", "False", "FALSE":
			*dst = false
			return
		}
	}
	d.errorf(v, "%s: expected true or false, got %s", path, describe(v))
}

// integer decodes a plain decimal integer: no sign other than '-', no
// leading zero, no underscore, no hexadecimal or octal form, no fraction.
func (d *decoder) integer(path string, v *yaml.Node) (int, bool) {
	if v.Kind != yaml.ScalarNode || (v.ShortTag() != "!!int" && v.ShortTag() != "!!float") {
		d.errorf(v, "%s: expected an integer, got %s", path, describe(v))
		return 0, false
	}
	digits := strings.TrimPrefix(v.Value, "-")
	plain := digits != ""
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			plain = false
		}
	}
	if !plain || v.ShortTag() != "!!int" {
		d.errorf(v, "%s: expected a whole number written in decimal digits, got %s", path, describe(v))
		return 0, false
	}
	if len(digits) > 1 && digits[0] == '0' {
		d.errorf(v, "%s: %s has a leading zero; write the number without it", path, Quote(v.Value))
		return 0, false
	}
	n, err := strconv.Atoi(v.Value)
	if err != nil {
		d.errorf(v, "%s: %s is too large", path, Quote(v.Value))
		return 0, false
	}
	return n, true
}

// confirmMode decodes never, if-supported or always.
func (d *decoder) confirmMode(path string, v *yaml.Node) (ConfirmMode, bool) {
	w, ok := d.word(path, v, []string{string(ConfirmNever), string(ConfirmIfSupported), string(ConfirmAlways)}, confirmModesText)
	return ConfirmMode(w), ok
}

// word decodes a string that must be one of words, exactly; list names them
// in messages.
func (d *decoder) word(path string, v *yaml.Node, words []string, list string) (string, bool) {
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str" {
		d.errorf(v, "%s: expected one of %s, got %s", path, list, describe(v))
		return "", false
	}
	if slices.Contains(words, v.Value) {
		return v.Value, true
	}
	hint := ""
	if best := closest(v.Value, words); best != "" {
		hint = " (did you mean " + strconv.Quote(best) + "?)"
	}
	d.errorf(v, "%s: %s is not one of %s%s", path, Quote(v.Value), list, hint)
	return "", false
}

// str decodes a string.
func (d *decoder) str(path string, v *yaml.Node) (string, bool) {
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str" {
		d.errorf(v, "%s: expected a string, got %s", path, describe(v))
		return "", false
	}
	return v.Value, true
}

// patterns decodes a list of tag patterns; an empty list gives an empty,
// non-nil slice.
func (d *decoder) patterns(path string, v *yaml.Node) []string {
	if v.Kind != yaml.SequenceNode {
		extra := ""
		if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" {
			extra = " (write [] for none)"
		}
		d.errorf(v, "%s: expected a list of patterns, got %s%s", path, describe(v), extra)
		return nil
	}
	if len(v.Content) > MaxPatterns {
		d.errorf(v, "%s: %d patterns; at most %d are allowed", path, len(v.Content), MaxPatterns)
		return nil
	}
	out := make([]string, 0, len(v.Content))
	for _, item := range v.Content {
		if item.Kind != yaml.ScalarNode || item.ShortTag() != "!!str" {
			hint := ""
			if item.Kind == yaml.ScalarNode {
				hint = "; put it in quotes"
			}
			d.errorf(item, "%s: expected a pattern (a string), got %s%s", path, describe(item), hint)
			continue
		}
		if err := ValidPattern(item.Value); err != nil {
			d.errorf(item, "%s: %v", path, err)
			continue
		}
		out = append(out, item.Value)
	}
	return out
}

// crossCheck checks rules that involve more than one field.
func (d *decoder) crossCheck(s *settings) {
	if s.keys.DefaultExpiryDays > s.keys.MaxExpiryDays {
		if n := d.values["keys.default_expiry_days"]; n != nil {
			d.errorf(n, "keys.default_expiry_days: %d is above keys.max_expiry_days (%d)", s.keys.DefaultExpiryDays, s.keys.MaxExpiryDays)
		} else {
			d.errorf(d.values["keys.max_expiry_days"], "keys.max_expiry_days: %d is below the built-in default_expiry_days (%d); set keys.default_expiry_days too",
				s.keys.MaxExpiryDays, s.keys.DefaultExpiryDays)
		}
	}
	d.quotaOrder("quota", s.quota)
	if n := d.values["rotate.enabled"]; n != nil && s.rotate.Enabled && !s.revoke.Enabled {
		d.errorf(n, "rotate.enabled: true needs revoke.enabled: true (a rotation revokes the old key)")
	}
	switch dir := d.values["secrets.dir"]; {
	case s.secrets.Deliver == DeliverFile && dir == nil:
		d.errorf(d.values["secrets.deliver"], "secrets.dir is required when deliver is file (the absolute path of the directory for <key-id>.env files)")
	case s.secrets.Deliver == DeliverChat && dir != nil:
		how := "secrets.deliver is chat"
		if d.values["secrets.deliver"] == nil {
			how = "secrets.deliver is chat, the default"
		}
		d.errorf(dir, "secrets.dir is only used with deliver: file (%s); remove it or set deliver: file", how)
	}
}

// quotaOrder reports a daily quota below the hourly one in the quota
// section at path.
func (d *decoder) quotaOrder(path string, q QuotaRules) {
	if q.MaxKeysPerHour > 0 && q.MaxKeysPerDay > 0 && q.MaxKeysPerHour > q.MaxKeysPerDay {
		d.errorf(d.values[path+".max_keys_per_day"], "%s.max_keys_per_day: %d is below %s.max_keys_per_hour (%d)", path, q.MaxKeysPerDay, path, q.MaxKeysPerHour)
	}
}
